// The V8 heap settings `paysignal run` ships with: the image sets them as NODE_OPTIONS (Dockerfile)
// and the chart passes them on (values.yaml `nodeOptions`); tests keep all three equal.
//
// Without them V8 sizes its heap for the whole machine and lets garbage pile up: 5M events through
// the service peaked at 493 MB RSS on a 24 GB machine, against 213 MB with these (bench/RESULTS.md,
// "Heap settings"). 192 MB of old space holds the correlation tracker at its default 100k keys
// (about 25 MB) with room to spare; raise it together with `correlation.max_keys`.
//
// The semi-space is 8 MB, not smaller: kafkajs keeps a whole fetch (up to 10 MB, about 17,000
// messages) alive while the pipeline works through it, and with a 4 MB semi-space those objects are
// promoted and the capped old space is marked and compacted over and over (about 4 us more CPU per
// event on the Kafka path). 12 and 16 MB cost less CPU still, but took RSS past 250 MB.
export const SERVICE_NODE_OPTIONS = '--max-old-space-size=192 --max-semi-space-size=8';
