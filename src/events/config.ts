// The `input` section: how raw records become payment-call events.
import { section, setting } from '../config/declare.ts';
import { DEFAULT_MAX_EVENT_BYTES } from './limits.ts';
import { BUILT_IN_MAPPINGS } from './mapping.ts';

export const inputSection = section('input', 'Decoding of the records read from Kafka.', {
  max_event_bytes: setting.integer({ description: 'Larger records are rejected (dead letter) without being parsed.', default: DEFAULT_MAX_EVENT_BYTES, min: 64, env: 'PAYSIGNAL_MAX_EVENT_BYTES' }),
  mapping: setting.path({
    description: 'Field mapping of the input: `native` (the paysignal event), `ecs`, `otel`, or a YAML mapping file.',
    default: 'native',
    names: BUILT_IN_MAPPINGS,
  }),
});
