// The V8 heap settings `paysignal run` ships with: the image sets them as NODE_OPTIONS (Dockerfile)
// and the chart passes them on (values.yaml `nodeOptions`); tests keep all three equal.
//
// Without them V8 sizes its heap for the whole machine and lets garbage pile up: 5M events through
// the service peaked at 493 MB RSS on a 24 GB machine, against 215 to 235 MB with these
// (bench/RESULTS.md, "Heap settings"). 160 MB of old space holds the correlation tracker at its
// default 100k keys (about 25 MB) with room to spare; raise it together with `correlation.max_keys`.
//
// The semi-space is 8 MB, not 4: kafkajs keeps a whole fetch (up to 10 MB, about 17,000 messages)
// alive while the pipeline works through it; with 4 MB those objects are promoted and the capped old
// space is marked and compacted over and over. The old space is 160 MB, not 192: RSS grows with the
// event rate, and at 40k to 70k events/s 192 MB (with either semi-space) reached 247 to 265 MB.
export const SERVICE_NODE_OPTIONS = '--max-old-space-size=160 --max-semi-space-size=8';
