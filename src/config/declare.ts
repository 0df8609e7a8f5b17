// How a component declares its configuration section, once: each setting with its type, default,
// description, environment variable and constraints, as data. From the declarations come the JSON
// Schema the file is validated against, the defaulted typed configuration (types inferred, so no
// hand-written interface can drift), the environment overrides, examples/paysignal.yaml and
// docs/configuration.md (see docs/configuration.md, "Adding a setting").
import { isAbsolute, resolve } from 'node:path';
import { DURATION_PATTERN, durationProblem, parseDuration } from '../kernel/duration.ts';

/** A default computed from the rest of the configuration (e.g. the dead-letter topic from the topics). */
export interface DerivedDefault<T> {
  /** How the documentation states the default. */
  readonly text: string;
  /** The default, from the configuration as read so far (file and environment, before defaults). */
  readonly from: (raw: RawConfig) => T;
}

/** The configuration as read from the file and environment: YAML values, before defaults. */
export type RawConfig = Readonly<Record<string, unknown>>;

/** How an environment variable's text becomes the value it sets; a string result is the problem. */
type EnvReader = (text: string, cwd: string) => { readonly value: unknown } | string;

export interface Setting<T> {
  readonly kind: 'setting';
  /** The type as docs/configuration.md names it. */
  readonly type: string;
  readonly description: string;
  readonly default: T | DerivedDefault<T>;
  /** The default as written in YAML; null when there is none to write (a commented example instead). */
  readonly yamlDefault: string | null;
  /** A value to show, commented out, in examples/paysignal.yaml when there is no default to write. */
  readonly example: string | undefined;
  readonly env: string | undefined;
  readonly readEnv: EnvReader;
  /** JSON Schema of the value in the file. */
  readonly schema: Readonly<Record<string, unknown>>;
  /** Words for a schema `pattern` failure, instead of ajv's regex. */
  readonly patternMessage: string | undefined;
  /** The file's value (valid against `schema`) as the configuration holds it; a string is the problem. */
  readonly convert: (value: unknown) => { readonly value: T } | string;
  /** Relative paths in this setting are resolved against the configuration file's directory. */
  readonly isPath: boolean;
  /** Values of a path setting that are names, not paths. */
  readonly names: readonly string[];
}

export interface Group<F extends Fields> {
  readonly kind: 'group';
  readonly description: string;
  readonly fields: F;
  /** Absent from the file means null (SASL: off); present means every field is required. */
  readonly optional: boolean;
  /** A YAML example of the whole group for examples/paysignal.yaml, when it is optional. */
  readonly example: string | undefined;
}

// `any` here only lets settings of every value type (and groups of every shape) sit in one record;
// the declared types themselves are kept by inference (ValueOf).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Fields = Readonly<Record<string, Setting<any> | Group<any>>>;

/** A checked relation between settings of one section (the schema cannot say it). */
export interface SectionCheck<S> {
  /** Key (within the section) the problem is reported at. */
  readonly at: string;
  /** The problem, or null when the section is fine. (A method, so sections of any shape form one list.) */
  problem(section: S): string | null;
}

export interface Section<N extends string, F extends Fields> {
  readonly name: N;
  readonly group: Group<F>;
  readonly checks: readonly SectionCheck<ValueOf<Group<F>>>[];
}

/** The typed value a declaration yields. */
export type ValueOf<D> =
  D extends Setting<infer T>
    ? T
    : D extends Group<infer F>
      ? D['optional'] extends true
        ? { readonly [K in keyof F]: ValueOf<F[K]> } | null
        : { readonly [K in keyof F]: ValueOf<F[K]> }
      : never;

export type SectionValue<S> = S extends Section<string, infer F> ? ValueOf<Group<F>> : never;

interface Common<T> {
  readonly description: string;
  readonly default: T | DerivedDefault<T>;
  readonly env?: string;
  readonly example?: string;
}

function isDerived<T>(value: T | DerivedDefault<T>): value is DerivedDefault<T> {
  return typeof value === 'object' && value !== null && 'from' in value && 'text' in value;
}

const json = (value: unknown): string => JSON.stringify(value);

function plain<T>(type: string, options: Common<T>, schema: Record<string, unknown>, readEnv: EnvReader, extra: Partial<Setting<T>> = {}): Setting<T> {
  const yamlDefault = isDerived(options.default) || options.default === null ? null : yamlText(options.default);
  return {
    kind: 'setting',
    type,
    description: options.description,
    default: options.default,
    yamlDefault,
    example: options.example,
    env: options.env,
    readEnv,
    schema,
    patternMessage: undefined,
    convert: (value) => ({ value: value as T }),
    isPath: false,
    names: [],
    ...extra,
  };
}

function yamlText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(yamlText).join(', ')}]`;
  return typeof value === 'string' && !/^[A-Za-z0-9_./:-]+$/.test(value) ? json(value) : String(value);
}

const asString: EnvReader = (text) => ({ value: text });
const asWholeNumber: EnvReader = (text) => (/^[0-9]+$/.test(text) ? { value: Number(text) } : `must be a whole number, got ${json(text)}`);
const asBoolean: EnvReader = (text) =>
  /^(1|true|yes|on)$/i.test(text) ? { value: true } : /^(0|false|no|off)$/i.test(text) ? { value: false } : `must be true or false, got ${json(text)}`;

export const setting = {
  string<D extends string | null>(options: Common<D> & { readonly minLength?: number; readonly pattern?: string; readonly patternMessage?: string }): Setting<string | D> {
    const schema: Record<string, unknown> = { type: 'string', minLength: options.minLength ?? 1 };
    if (options.pattern !== undefined) schema.pattern = options.pattern;
    return plain<string | D>('string', options, schema, asString, { patternMessage: options.patternMessage });
  },

  /** An http:// or https:// URL; null when unset. */
  url<D extends string | null>(options: Common<D>): Setting<string | D> {
    return plain<string | D>('URL', options, { type: 'string', pattern: '^https?://' }, asString, { patternMessage: 'must be an http:// or https:// URL' });
  },

  integer(options: Common<number> & { readonly min?: number; readonly max?: number }): Setting<number> {
    const schema: Record<string, unknown> = { type: 'integer' };
    if (options.min !== undefined) schema.minimum = options.min;
    if (options.max !== undefined) schema.maximum = options.max;
    return plain('integer', options, schema, asWholeNumber);
  },

  /** A whole number or `auto` (the component decides from the machine). */
  integerOrAuto(options: Common<number | 'auto'> & { readonly min: number; readonly max: number }): Setting<number | 'auto'> {
    const schema = { oneOf: [{ type: 'integer', minimum: options.min, maximum: options.max }, { const: 'auto' }] };
    const read: EnvReader = (text) =>
      text.toLowerCase() === 'auto' ? { value: 'auto' } : /^[0-9]+$/.test(text) ? { value: Number(text) } : `must be a whole number or auto, got ${json(text)}`;
    return plain('integer or auto', options, schema, read);
  },

  ratio(options: Common<number>): Setting<number> {
    return plain('number from 0 to 1', options, { type: 'number', minimum: 0, maximum: 1 }, (text) =>
      /^(0|1|0?\.[0-9]+|1\.0+)$/.test(text) ? { value: Number(text) } : `must be a number from 0 to 1, got ${json(text)}`,
    );
  },

  boolean(options: Common<boolean>): Setting<boolean> {
    return plain('boolean', options, { type: 'boolean' }, asBoolean);
  },

  oneOf<const V extends string>(values: readonly V[], options: Common<V>): Setting<V> {
    return plain(values.map((v) => `\`${v}\``).join(' | '), options, { enum: [...values] }, (text) =>
      (values as readonly string[]).includes(text) ? { value: text } : `must be one of ${values.join(', ')}, got ${json(text)}`,
    );
  },

  /** Written in the Prometheus notation (`500ms`, `1h30m`); held in milliseconds. */
  duration(options: Omit<Common<number>, 'default'> & { readonly default: string }): Setting<number> {
    const ms = parseDuration(options.default);
    if (ms === null) throw new Error(`declared default ${options.default} is not a duration`);
    const convert = (value: unknown): { value: number } | string => {
      const parsed = typeof value === 'string' ? parseDuration(value) : null;
      return parsed === null ? (durationProblem(value) ?? 'is not a duration') : { value: parsed };
    };
    return {
      ...plain('duration', { ...options, default: ms }, { type: 'string', pattern: DURATION_PATTERN }, (text) => {
        const converted = convert(text);
        return typeof converted === 'string' ? converted : { value: text };
      }),
      yamlDefault: options.default,
      convert,
    };
  },

  /** A list; from the environment, comma-separated. */
  list(options: Common<readonly string[]> & { readonly pattern: string; readonly patternMessage: string }): Setting<readonly string[]> {
    const schema = { type: 'array', items: { type: 'string', pattern: options.pattern } };
    return plain('list of strings', options, schema, (text) => ({ value: text.split(',').map((s) => s.trim()).filter((s) => s.length > 0) }), {
      patternMessage: options.patternMessage,
    });
  },

  /** A file path, resolved against the configuration file's directory (from the environment: the working directory). */
  path<D extends string | null>(options: Common<D> & { readonly names?: readonly string[] }): Setting<string | D> {
    const names = options.names ?? [];
    return plain<string | D>('path', options, { type: 'string', minLength: 1 }, (text, cwd) => ({ value: names.includes(text) || isAbsolute(text) ? text : resolve(cwd, text) }), {
      isPath: true,
      names,
    });
  },
};

export function group<const F extends Fields>(description: string, fields: F): Group<F> {
  return { kind: 'group', description, fields, optional: false, example: undefined };
}

/** A group that is null when absent and needs every field when present. */
export function optionalGroup<const F extends Fields>(description: string, fields: F, example: string): Group<F> & { readonly optional: true } {
  return { kind: 'group', description, fields, optional: true, example };
}

export function section<const N extends string, const F extends Fields>(
  name: N,
  description: string,
  fields: F,
  checks: readonly SectionCheck<ValueOf<Group<F>>>[] = [],
): Section<N, F> {
  return { name, group: group(description, fields), checks };
}

export function defaultOf<T>(declared: Setting<T>, raw: RawConfig): T {
  return isDerived(declared.default) ? declared.default.from(raw) : declared.default;
}

export function defaultText(declared: Setting<unknown>): string {
  if (isDerived(declared.default)) return declared.default.text;
  if (declared.default === null) return 'none';
  return declared.yamlDefault ?? 'none';
}
