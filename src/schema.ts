// One ajv instance for every JSON Schema the project ships (events, catalogs, mappings, config,
// rules), so schemas compile once and report problems the same way.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

export const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
(addFormats as unknown as (a: Ajv) => void)(ajv);

export interface SchemaProblem {
  /** Dotted path of the offending value (`http.status_code`), or the missing property's path. */
  readonly path: string;
  readonly keyword: string;
  readonly message: string;
}

/** Dotted path from an ajv error, pointing at the missing property for `required` errors. */
export function problemFrom(error: ErrorObject): SchemaProblem {
  const base = error.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
  if (error.keyword === 'required') base.push(String((error.params as { missingProperty: string }).missingProperty));
  if (error.keyword === 'additionalProperties') base.push(String((error.params as { additionalProperty: string }).additionalProperty));
  const path = base.join('.');
  const message = error.keyword === 'required'
    ? `required field "${path}" is missing`
    : error.keyword === 'additionalProperties'
      ? `unknown field "${path}"`
      : error.keyword === 'enum'
        ? `${path || 'value'} must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`
        : `${path || 'value'} ${error.message ?? 'is invalid'}`;
  return { path, keyword: error.keyword, message };
}

/** A validator returning the first problem, or null when the value is valid. */
export function compileSchema<T>(schema: object): ((value: unknown) => SchemaProblem | null) & { readonly raw: ValidateFunction<T> } {
  const id = (schema as { $id?: string }).$id;
  const validate = (id !== undefined ? ajv.getSchema<T>(id) : undefined) ?? ajv.compile<T>(schema);
  const check = (value: unknown): SchemaProblem | null => {
    if (validate(value)) return null;
    const first = validate.errors?.[0];
    return first ? problemFrom(first) : { path: '', keyword: 'unknown', message: 'is invalid' };
  };
  return Object.assign(check, { raw: validate });
}
