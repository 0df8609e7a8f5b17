// The V8 heap settings `paysignal run` ships with: the image sets them as NODE_OPTIONS (Dockerfile)
// and the chart passes them on (values.yaml `nodeOptions`); tests keep all three equal.
//
// Without them V8 sizes its heap for the whole machine and lets garbage pile up: 5M events through
// the service peaked at 506 MB RSS on a 24 GB machine, against 237 MB with these
// (bench/RESULTS.md, "Memory"). 192 MB of old space holds the correlation tracker at its default
// 100k keys (about 25 MB) with room to spare; raise it together with `correlation.max_keys`.
export const SERVICE_NODE_OPTIONS = '--max-old-space-size=192 --max-semi-space-size=4';
