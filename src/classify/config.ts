// The `correlation` section: how attempts of one payment are tied together.
import { section, setting, type SectionValue } from '../config/declare.ts';

export const correlationSection = section('correlation', 'Retries tied together by idempotency key or correlation id, in bounded memory.', {
  max_keys: setting.integer({ description: 'Keys remembered at once (about 150 bytes each, 120 of them on the V8 heap); the oldest go first.', default: 100_000, min: 1 }),
  ttl: setting.duration({ description: 'A key not seen for this long is forgotten.', default: '1h' }),
  storm_threshold: setting.integer({ description: 'Attempts of one operation under one key from which it counts as a retry storm.', default: 5, min: 1 }),
});

export type CorrelationConfig = SectionValue<typeof correlationSection>;
