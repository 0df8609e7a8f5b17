// The fetch-ahead bound startService gives the Kafka source with processing workers
// (src/service/fetch-ahead.ts): a count of batches and a number of bytes per worker, the bytes never
// more than one fetch (kafka.max_bytes).
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/config.ts';
import { FETCH_AHEAD_BATCHES_PER_WORKER, FETCH_AHEAD_BYTES_PER_WORKER, fetchAheadBound } from '../../src/service/fetch-ahead.ts';

const MB = 2 ** 20;
const defaultFetchBytes = parseConfig(null, null, {}).kafka.max_bytes;

describe('the fetch-ahead bound', () => {
  it('holds 64 batches and 1 MB of record values per worker', () => {
    expect(FETCH_AHEAD_BATCHES_PER_WORKER).toBe(64);
    expect(FETCH_AHEAD_BYTES_PER_WORKER).toBe(1 * MB);
    expect(fetchAheadBound(1, defaultFetchBytes)).toEqual({ maxBatches: 64, maxBytes: 1 * MB });
    expect(fetchAheadBound(2, defaultFetchBytes)).toEqual({ maxBatches: 128, maxBytes: 2 * MB });
  });

  it('never holds more bytes than one fetch brings (kafka.max_bytes)', () => {
    expect(defaultFetchBytes).toBe(10 * MB);
    expect(fetchAheadBound(12, defaultFetchBytes)).toEqual({ maxBatches: 768, maxBytes: 10 * MB });
    expect(fetchAheadBound(1, MB / 2)).toEqual({ maxBatches: 64, maxBytes: MB / 2 });
  });
});
