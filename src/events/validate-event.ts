// Validation of a parsed event against payment-call-event.schema.json (docs/architecture.md#input-the-payment-call-event).
//
// The shared ajv instance (src/kernel/schema.ts) counts `minLength`/`maxLength` in characters, as
// JSON Schema says: a JavaScript loop over every string the schema limits (ajv's `ucs2length`), a
// dozen strings per event and about half of the validation's cost. Counted in UTF-16 code units
// instead, a string is never shorter than in characters, so an event within every `maxLength` in
// units is within it in characters; for `minLength` the two counts agree as long as the schema asks
// for at most 1 (test/events/validate-event.test.ts holds the schema to that). So a second ajv
// instance compiled with `unicode: false` gives a verdict that is only trusted when it accepts: every
// event it refuses (rare, and also events with long strings outside the Basic Multilingual Plane) is
// judged again by the shared instance, whose verdict and first problem are the decoder's answer.
import { Ajv } from 'ajv';
import { compileSchema, type SchemaProblem } from '../kernel/schema.ts';
import eventSchema from './payment-call-event.schema.json' with { type: 'json' };

const validateInCharacters = compileSchema(eventSchema);

// The schema is draft-07, ajv's default draft; the options are the shared instance's, less
// `allErrors` (only the verdict is read) and with lengths in code units. `logger: false` keeps ajv's
// warning that `unicode` is deprecated out of every process's output: this instance compiles this one
// schema, which the shared instance compiles with its logger too.
const withinUnits = new Ajv({ strict: true, strictRequired: false, strictTypes: false, allowUnionTypes: true, unicode: false, logger: false }).compile(eventSchema);

/** The first problem of a parsed event, or null when it is a valid payment-call event. */
export function validateEvent(value: unknown): SchemaProblem | null {
  return withinUnits(value) ? null : validateInCharacters(value);
}
