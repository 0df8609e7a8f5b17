// Field mappings let paysignal read event shapes other than its own (Elastic Common Schema,
// OpenTelemetry log records, or a user's file). A mapping is data: JSON pointers in YAML.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileSchema } from '../kernel/schema.ts';
import { PaysignalError, schemaError, yamlSyntaxError } from '../errors.ts';
import { parseYamlSource } from '../kernel/yaml.ts';
import { compilePointer, readPointer, writePointer, type CompiledPointer } from './json-pointer.ts';
import mappingSchema from './mappings/mapping.schema.json' with { type: 'json' };

type Transform = 'uppercase' | 'nanoseconds_to_ms' | 'seconds_to_ms' | 'to_integer';

interface MappingFile {
  name: string;
  description?: string;
  preprocess?: 'otlp_attributes'[];
  fields: Record<string, { from: string[]; transform?: Transform; only_when_absent?: string }>;
}

interface CompiledField {
  readonly target: CompiledPointer;
  readonly sources: readonly CompiledPointer[];
  readonly transform: Transform | null;
  readonly onlyWhenAbsent: CompiledPointer | null;
}

export interface FieldMapping {
  readonly name: string;
  /** The native event object built from `input`; throws when a value cannot be converted. */
  apply(input: Record<string, unknown>): Record<string, unknown>;
}

export const BUILT_IN_MAPPINGS = ['native', 'ecs', 'otel'] as const;

const validateMappingFile = compileSchema<MappingFile>(mappingSchema);
const BUILT_IN_DIR = join(dirname(fileURLToPath(import.meta.url)), 'mappings');

/** `native` (null: no mapping), a built-in name, or a path to a YAML mapping file. */
export async function loadMapping(nameOrFile: string): Promise<FieldMapping | null> {
  if (nameOrFile === 'native') return null;
  const file = (BUILT_IN_MAPPINGS as readonly string[]).includes(nameOrFile) ? join(BUILT_IN_DIR, `${nameOrFile}.yaml`) : nameOrFile;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PaysignalError('MAPPING_NOT_FOUND', `cannot read field mapping "${nameOrFile}" (expected ${BUILT_IN_MAPPINGS.join(', ')} or a YAML file)`, { file, cause: error });
  }
  return compileMapping(parseMappingText(text, file));
}

function parseMappingText(text: string, file: string): MappingFile {
  const source = parseYamlSource(text, file);
  const syntax = yamlSyntaxError('MAPPING_INVALID', source);
  if (syntax) throw syntax;
  const problem = validateMappingFile(source.data);
  if (problem) throw schemaError('MAPPING_INVALID', source, problem);
  return source.data as MappingFile;
}

function compileMapping(file: MappingFile): FieldMapping {
  const fields: CompiledField[] = Object.entries(file.fields).map(([target, spec]) => ({
    target: compilePointer(target),
    sources: spec.from.map(compilePointer),
    transform: spec.transform ?? null,
    onlyWhenAbsent: spec.only_when_absent === undefined ? null : compilePointer(spec.only_when_absent),
  }));
  const unwrapOtlp = file.preprocess?.includes('otlp_attributes') ?? false;
  return {
    name: file.name,
    apply(input) {
      const source = unwrapOtlp ? unwrapOtlpRecord(input) : input;
      const out: Record<string, unknown> = {};
      for (const field of fields) {
        if (field.onlyWhenAbsent && readPointer(source, field.onlyWhenAbsent) !== undefined) continue;
        for (const pointer of field.sources) {
          const value = readPointer(source, pointer);
          if (value === undefined || value === null) continue;
          writePointer(out, field.target, field.transform ? applyTransform(field.transform, value) : value);
          break;
        }
      }
      return out;
    },
  };
}

function applyTransform(transform: Transform, value: unknown): unknown {
  switch (transform) {
    case 'uppercase':
      return typeof value === 'string' ? value.toUpperCase() : value;
    case 'nanoseconds_to_ms':
      if (typeof value === 'string' && /^\d+$/.test(value)) return Number(BigInt(value) / 1000n) / 1000;
      return typeof value === 'number' ? value / 1e6 : value;
    case 'seconds_to_ms':
      return typeof value === 'number' ? value * 1000 : value;
    case 'to_integer':
      return typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  }
}

// OTLP/JSON wraps every value ({"stringValue": "x"}) and lists attributes as {key, value} pairs.
function unwrapAnyValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const v = value as Record<string, unknown>;
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return typeof v.intValue === 'string' ? Number(v.intValue) : v.intValue;
  if ('doubleValue' in v) return v.doubleValue;
  if ('boolValue' in v) return v.boolValue;
  if ('arrayValue' in v) {
    const values = (v.arrayValue as { values?: unknown[] } | null)?.values ?? [];
    return values.map(unwrapAnyValue);
  }
  if ('kvlistValue' in v) return attributesToMap((v.kvlistValue as { values?: unknown } | null)?.values);
  return value;
}

function attributesToMap(attributes: unknown): unknown {
  if (!Array.isArray(attributes)) return attributes;
  const out: Record<string, unknown> = {};
  for (const item of attributes) {
    if (item === null || typeof item !== 'object') continue;
    const { key, value } = item as { key?: unknown; value?: unknown };
    if (typeof key === 'string' && key !== '__proto__') out[key] = unwrapAnyValue(value);
  }
  return out;
}

function unwrapOtlpRecord(input: Record<string, unknown>): Record<string, unknown> {
  const resource = input.resource as { attributes?: unknown } | undefined;
  return {
    ...input,
    attributes: attributesToMap(input.attributes),
    body: unwrapAnyValue(input.body),
    resource: attributesToMap(resource?.attributes ?? resource),
  };
}
