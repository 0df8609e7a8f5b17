// Configuration of paysignal (docs/configuration.md): one YAML file (`--config FILE` or
// PAYSIGNAL_CONFIG) plus environment overrides, checked against the settings the components declare
// (src/config/sections.ts). Problems are PaysignalErrors with a stable code naming the file, line,
// column and setting (or the environment variable).
//
// Durations are written in the Prometheus notation (`500ms`, `1h30m`) and held in milliseconds.
// Relative paths in the file are resolved against the file's directory; paths from the environment
// against the working directory.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { PaysignalError, schemaError, yamlSyntaxError } from '../errors.ts';
import { durationProblem } from '../kernel/duration.ts';
import { compileSchema, type SchemaProblem } from '../kernel/schema.ts';
import { parseYamlSource, type YamlSource } from '../kernel/yaml.ts';
import { defaultOf, type Fields, type Group, type RawConfig, type SectionValue, type Setting } from './declare.ts';
import { configSchema, settingsOf, type DeclaredSetting } from './reference.ts';
import { SECTIONS } from './sections.ts';

export { workerCount } from '../pipeline/workers/config.ts';

type Sections = (typeof SECTIONS)[number];

/** The whole configuration, every setting defaulted; its type is inferred from the declarations. */
export type PaysignalConfig = { readonly file: string | null } & { readonly [S in Sections as S['name']]: SectionValue<S> };
export type KafkaConfig = PaysignalConfig['kafka'];
export type SaslMechanism = NonNullable<KafkaConfig['sasl']>['mechanism'];

type Json = Record<string, unknown>;

const validate = compileSchema<Json>(configSchema());
const SETTINGS: readonly DeclaredSetting[] = settingsOf(SECTIONS);
const BY_PATH = new Map(SETTINGS.map((s) => [s.path.join('.'), s]));

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function getIn(source: unknown, path: readonly string[]): unknown {
  let node = source;
  for (const part of path) {
    if (!isObject(node)) return undefined;
    node = node[part];
  }
  return node;
}

function setIn(target: Json, path: readonly string[], value: unknown): void {
  let node = target;
  for (const part of path.slice(0, -1)) {
    if (!isObject(node[part])) node[part] = {};
    node = node[part] as Json;
  }
  node[path[path.length - 1]!] = value;
}

export interface LoadConfigOptions {
  /** The YAML file; when absent, `env.PAYSIGNAL_CONFIG`; when that is absent too, defaults + environment. */
  readonly file?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Base for relative paths from the environment; default process.cwd(). */
  readonly cwd?: string;
}

/** Reads, merges and validates the configuration. Throws PaysignalError (CONFIG_*) on any problem. */
export function loadConfig(options: LoadConfigOptions): PaysignalConfig {
  const cwd = options.cwd ?? process.cwd();
  const named = options.file ?? (options.env.PAYSIGNAL_CONFIG === '' ? undefined : options.env.PAYSIGNAL_CONFIG);
  if (named === undefined) return parseConfig(null, null, options.env, cwd);
  const file = resolve(cwd, named);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new PaysignalError('CONFIG_NOT_FOUND', `cannot read the configuration file: ${why}`, { file, cause: error });
  }
  return parseConfig(text, file, options.env, cwd);
}

/** Like loadConfig, from text already read (`file` names it in errors; null when there is no file). */
export function parseConfig(text: string | null, file: string | null, env: Readonly<Record<string, string | undefined>>, cwd = process.cwd()): PaysignalConfig {
  let source: YamlSource | null = null;
  let data: Json = {};
  if (text !== null) {
    source = parseYamlSource(text, file ?? '<config>');
    const syntax = yamlSyntaxError('CONFIG_SYNTAX', source);
    if (syntax) throw syntax;
    if (source.data === null || source.data === undefined) data = {};
    else if (isObject(source.data)) data = structuredClone(source.data);
    else throw new PaysignalError('CONFIG_INVALID', 'the configuration must be a YAML mapping (key: value)', { file: source.file, line: 1 });
  }

  // The file alone first, so its problems point at its lines.
  if (source !== null) {
    const problem = fileProblem(data);
    if (problem) throw schemaError('CONFIG_INVALID', source, problem);
  }
  const base = file === null ? cwd : dirname(file);
  for (const s of SETTINGS) {
    const value = getIn(data, s.path);
    if (s.setting.isPath && typeof value === 'string' && !s.setting.names.includes(value) && !isAbsolute(value)) setIn(data, s.path, resolve(base, value));
  }

  // Then the environment, each variable checked on its own so a problem names the variable.
  const fromEnv = new Map<string, string>();
  for (const s of SETTINGS) {
    const name = s.setting.env;
    const raw = name === undefined ? undefined : env[name];
    if (name === undefined || raw === undefined || raw.trim() === '') continue;
    const read = s.setting.readEnv(raw.trim(), cwd);
    if (typeof read === 'string') throw new PaysignalError('CONFIG_ENV_INVALID', `${name} ${read}`, { field: name });
    setIn(data, s.path, read.value);
    fromEnv.set(s.path.join('.'), name);
  }
  if (fromEnv.size > 0) {
    const problem = fileProblem(data);
    if (problem) throw envError(problem, fromEnv, source);
  }

  const config = { file, ...build(data) } as PaysignalConfig;
  for (const declared of SECTIONS) {
    for (const check of declared.checks) {
      const message = check.problem(config[declared.name] as never);
      if (message === null) continue;
      const field = `${declared.name}.${check.at}`;
      const variable = fromEnv.get(field);
      if (variable !== undefined) throw new PaysignalError('CONFIG_ENV_INVALID', `${message} (from the environment variable ${variable})`, { field: variable });
      throw new PaysignalError('CONFIG_INVALID', message, { ...(source === null ? {} : { file: source.file, ...source.positionOf(field) }), field });
    }
  }
  return config;
}

/** The first problem of the data against the declarations, in the words of the setting at fault. */
function fileProblem(data: Json): SchemaProblem | null {
  const problem = validate(data);
  if (problem !== null) return friendly(problem, data);
  // The schema's pattern lets `30m1h` through; the declaration's conversion does not.
  for (const s of SETTINGS) {
    const value = getIn(data, s.path);
    if (value === undefined) continue;
    const converted = s.setting.convert(value);
    if (typeof converted === 'string') return { segments: s.path, path: s.path.join('.'), keyword: 'convert', message: converted };
  }
  return null;
}

function friendly(problem: SchemaProblem, data: Json): SchemaProblem {
  const names = problem.segments.filter((s): s is string => typeof s === 'string');
  const declared = BY_PATH.get(names.join('.'))?.setting;
  if (declared === undefined || (problem.keyword !== 'type' && problem.keyword !== 'pattern')) return problem;
  if (declared.type === 'duration') return { ...problem, message: durationProblem(getIn(data, names)) ?? problem.message };
  if (declared.patternMessage !== undefined && problem.keyword === 'pattern') return { ...problem, message: `${problem.path} ${declared.patternMessage}` };
  return problem;
}

/** A problem found once the environment was applied, blamed on the variable that caused it. */
function envError(problem: SchemaProblem, fromEnv: ReadonlyMap<string, string>, source: YamlSource | null): PaysignalError {
  const dotted = problem.segments.filter((s): s is string => typeof s === 'string').join('.');
  const parent = (path: string): string => path.split('.').slice(0, -1).join('.');
  const variable =
    [...fromEnv].find(([path]) => dotted === path || dotted.startsWith(`${path}.`) || path.startsWith(`${dotted}.`)) ??
    [...fromEnv].find(([path]) => parent(path) === parent(dotted));
  if (variable !== undefined) {
    const missingVar = problem.keyword === 'required' ? BY_PATH.get(dotted)?.setting.env : undefined;
    const hint = missingVar === undefined ? '' : `; set ${missingVar} too`;
    return new PaysignalError('CONFIG_ENV_INVALID', `${problem.message} (from the environment variable ${variable[1]}${hint})`, { field: variable[1] });
  }
  if (source !== null) return schemaError('CONFIG_INVALID', source, problem);
  return new PaysignalError('CONFIG_INVALID', problem.message, problem.path === '' ? {} : { field: problem.path });
}

/** The typed configuration: every declared setting, from the data where present, else its default. */
function build(data: Json): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const declared of SECTIONS) out[declared.name] = buildGroup(declared.group, data[declared.name], data);
  return out;
}

function buildGroup(group: Group<Fields>, raw: unknown, root: RawConfig): Record<string, unknown> {
  const values = isObject(raw) ? raw : {};
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(group.fields)) {
    if (field.kind === 'group') {
      out[key] = field.optional && values[key] === undefined ? null : buildGroup(field, values[key], root);
      continue;
    }
    out[key] = values[key] === undefined ? defaultOf(field as Setting<unknown>, root) : convert(field as Setting<unknown>, values[key]);
  }
  return out;
}

function convert(declared: Setting<unknown>, value: unknown): unknown {
  const converted = declared.convert(value);
  // fileProblem has refused every value that does not convert.
  if (typeof converted === 'string') throw new Error(`unchecked configuration value: ${converted}`);
  return converted.value;
}

/** What `paysignal run` cannot start without: brokers and topics. */
export function assertKafkaConfigured(config: PaysignalConfig): void {
  const where = config.file === null ? 'in a configuration file (--config or PAYSIGNAL_CONFIG)' : `in ${config.file}`;
  if (config.kafka.brokers.length === 0) {
    throw new PaysignalError('CONFIG_MISSING', `no Kafka brokers configured: set kafka.brokers ${where} or KAFKA_BROKERS`, {
      ...(config.file === null ? {} : { file: config.file }),
      field: 'kafka.brokers',
    });
  }
  if (config.kafka.topics.length === 0) {
    throw new PaysignalError('CONFIG_MISSING', `no Kafka topics configured: set kafka.topics ${where} or KAFKA_TOPIC`, {
      ...(config.file === null ? {} : { file: config.file }),
      field: 'kafka.topics',
    });
  }
}
