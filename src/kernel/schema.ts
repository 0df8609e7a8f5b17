// The one ajv instance for every JSON Schema the project ships (events, catalogs, mappings,
// configuration, rule sets), so schemas compile once, share their options and report problems the
// same way. (The decoder adds a quicker first check of events, src/events/validate-event.ts, whose
// refusals come back here.) It speaks draft 2020-12 (the rule sets use its discriminator) and draft-07 (the others).
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import draft07 from 'ajv/dist/refs/json-schema-draft-07.json' with { type: 'json' };
import { pathText, type PathSegment } from './diagnostic.ts';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

// allErrors: a rule file reports every problem at once; the other callers take the first error,
// which is the one ajv would have stopped at without it.
export const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, strictTypes: false, discriminator: true, allowUnionTypes: true });
ajv.addMetaSchema(draft07);
(addFormats as unknown as (a: Ajv2020) => void)(ajv);

export interface SchemaProblem {
  /** Where the offending value is (for `required`, the missing property; for unknown fields, that field). */
  readonly segments: readonly PathSegment[];
  /** `segments` as text: `kafka.brokers[0]`. */
  readonly path: string;
  readonly keyword: string;
  readonly message: string;
}

/** Path segments of a JSON pointer (`/rules/0/kind` → `rules`, 0, `kind`). */
export function pointerSegments(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** A problem from an ajv error, pointing at the missing or unknown property where there is one. */
export function problemFrom(error: ErrorObject): SchemaProblem {
  const segments = pointerSegments(error.instancePath);
  if (error.keyword === 'required') segments.push(String((error.params as { missingProperty: string }).missingProperty));
  if (error.keyword === 'additionalProperties') segments.push(String((error.params as { additionalProperty: string }).additionalProperty));
  const path = pathText(segments);
  const message = error.keyword === 'required'
    ? `required field "${path}" is missing`
    : error.keyword === 'additionalProperties'
      ? `unknown field "${path}"`
      : error.keyword === 'enum'
        ? `${path || 'value'} must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`
        : `${path || 'value'} ${error.message ?? 'is invalid'}`;
  return { segments, path, keyword: error.keyword, message };
}

/** A validator returning the first problem, or null when the value is valid. */
export function compileSchema<T>(schema: object): ((value: unknown) => SchemaProblem | null) & { readonly raw: ValidateFunction<T> } {
  const id = (schema as { $id?: string }).$id;
  const validate = (id !== undefined ? ajv.getSchema<T>(id) : undefined) ?? ajv.compile<T>(schema);
  const check = (value: unknown): SchemaProblem | null => {
    if (validate(value)) return null;
    const first = validate.errors?.[0];
    return first ? problemFrom(first) : { segments: [], path: '', keyword: 'unknown', message: 'is invalid' };
  };
  return Object.assign(check, { raw: validate });
}
