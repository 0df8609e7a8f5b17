// Every error code paysignal reports, with what it means and how the CLI exits on it. A code is a
// stable name people search for and alert on; `PaysignalError.code` only accepts the codes listed
// here, and docs/errors.md is generated from this list (`npm run generate`; a test keeps it current).
//
// Adding a code: add an entry here (name in UPPER_SNAKE_CASE, prefixed by the area it belongs to),
// run `npm run generate`, and test the path that reports it.

export interface ErrorCodeInfo {
  /** Groups the codes in docs/errors.md. */
  readonly area: ErrorArea;
  /** What went wrong and what to do about it, in one or two sentences. */
  readonly description: string;
  /** Exit status of the `paysignal` command when the error ends it. */
  readonly exitCode: 1 | 2;
}

export const ERROR_AREAS = {
  cli: 'Command line',
  config: 'Configuration',
  rules: 'Alert rule files',
  data: 'Catalogs, mappings and input',
  service: 'Running service',
  report: 'Weekly report',
  demo: 'Demo (embedded broker)',
} as const;
export type ErrorArea = keyof typeof ERROR_AREAS;

// Status 2 says "the command was called wrongly": a bad command line or a bad configuration.
const usage = (description: string): ErrorCodeInfo => ({ area: 'cli', description, exitCode: 2 });
const config = (description: string): ErrorCodeInfo => ({ area: 'config', description, exitCode: 2 });
const fault = (area: ErrorArea, description: string): ErrorCodeInfo => ({ area, description, exitCode: 1 });

export const ERROR_CODES = {
  USAGE: usage('A command-line argument or option is missing, unknown or malformed; the message names it and `--help` shows the usage.'),

  CONFIG_NOT_FOUND: config('The configuration file named by `--config` or `PAYSIGNAL_CONFIG` cannot be read.'),
  CONFIG_SYNTAX: config('The configuration file is not valid YAML.'),
  CONFIG_INVALID: config('A setting in the configuration file breaks its declaration (type, range, unknown key, old duration notation) or contradicts another setting. See docs/configuration.md.'),
  CONFIG_ENV_INVALID: config('An environment variable that overrides a setting has a value that cannot be used; the message names the variable.'),
  KAFKA_TLS_FILE_UNREADABLE: config('A TLS file named by `kafka.tls.ca_file`, `cert_file` or `key_file` (or KAFKA_SSL_*_FILE) cannot be read.'),
  CONFIG_MISSING: config('Something `paysignal run` needs is configured nowhere (Kafka brokers or topics).'),

  E_IO: fault('rules', 'A rule file or directory cannot be read.'),
  E_NO_RULE_FILES: fault('rules', 'A rules directory holds no `*.yaml` or `*.yml` files.'),
  E_YAML_SYNTAX: fault('rules', 'A rule file is not valid YAML.'),
  E_API_VERSION: fault('rules', '`apiVersion` is not `paysignal/v1` or `kind` is not `RuleSet`.'),
  E_SCHEMA: fault('rules', 'A value of the wrong type or out of range (e.g. an unknown baseline method).'),
  E_UNKNOWN_KIND: fault('rules', 'A rule `kind` is not one of threshold, spike, error_ratio, new_error_code, absence.'),
  E_MISSING_FIELD: fault('rules', 'A required field is missing (also a `window` neither in the rule nor in `defaults`).'),
  E_UNKNOWN_FIELD: fault('rules', 'A field the rule kind does not take.'),
  E_DURATION: fault('rules', 'Not a duration in the Prometheus notation (`1.5s` must be written `1s500ms`), or zero where a length is needed.'),
  E_NOT_MULTIPLE_OF_INTERVAL: fault('rules', "A duration that is not a multiple of the rule set's `interval`."),
  E_WINDOW_EXCEEDS_LOOKBACK: fault('rules', 'A window longer than the lookback (or longer than 1d for `same_time_last_week`).'),
  E_WINDOW_ORDER: fault('rules', 'An `error_ratio` short window that is not shorter than its long window.'),
  E_ZSCORE_WINDOWS: fault('rules', 'A zscore lookback that is not 2 to 24 whole windows.'),
  E_MISSING_SELECTOR: fault('rules', '`threshold` or `spike` on errors or calls without a selector.'),
  E_SELECTOR: fault('rules', 'A selector value of the wrong shape.'),
  E_LABEL: fault('rules', "A label the signal's counter does not carry, a bad `group_by`, or a reserved label in `labels`."),
  E_REGEX: fault('rules', 'A regex that is invalid or not portable between JavaScript and RE2 (Prometheus).'),
  E_TEMPLATE: fault('rules', 'An annotation template other than `$labels.<group label>` / `$value`, or a template in `labels`.'),
  E_DUPLICATE_RULE: fault('rules', 'Two rules with the same name (or the same snake-case id), in one file or across files.'),
  RULES_INVALID: fault('rules', '`paysignal run` cannot start because the rule files named by `rules.dir` do not load; the message lists every problem with its own code.'),

  CATALOG_NOT_FOUND: fault('data', 'A provider catalog file cannot be read.'),
  CATALOG_INVALID: fault('data', 'A provider catalog is not valid YAML, breaks the catalog schema, or does not match its folder.'),
  MAPPING_NOT_FOUND: fault('data', 'The field mapping named by `input.mapping` is neither built in (native, ecs, otel) nor a readable file.'),
  MAPPING_INVALID: fault('data', 'A field mapping file is not valid YAML or breaks the mapping schema.'),
  INPUT_NOT_READABLE: fault('data', 'An input file given to a command cannot be read.'),

  HTTP_LISTEN_FAILED: fault('service', 'The HTTP server (/metrics, /healthz, /readyz) cannot listen on `http.host`:`http.port` (port in use, no permission).'),
  EVENTS_FILE_UNWRITABLE: fault('service', 'The events file (`events_file.path`) cannot be opened or written.'),
  OTLP_PROTOCOL_UNSUPPORTED: fault('service', '`OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` asks for a protocol other than http/protobuf or http/json.'),
  STATE_TOPIC_MISSING: fault('service', "The state topic (`kafka.state_topic`, KAFKA_STATE_TOPIC) does not exist and paysignal may not create it; create it with one partition and cleanup.policy=compact. Until it exists the alert engine starts cold and is not checkpointed (the service runs on)."),
  STATE_VALUE_TOO_LARGE: fault('service', "An alert engine checkpoint is larger than a checkpoint may be; it is not written (the previous one stays), and the next is tried with the next commit."),

  WORKER_START_FAILED: fault('service', 'A processing worker (`processing.workers`) could not build its pipeline; the message says why. Startup stops; a worker that fails later is replaced.'),
  WORKER_BATCH_FAILED: fault('service', 'A processing worker could not process a batch; the batch is not committed and the Kafka source processes it again after a back-off.'),
  WORKER_EXITED: fault('service', 'A processing worker thread ended unexpectedly; its batches in hand are not committed (they are processed again) and a new worker takes its partitions after a second.'),
  WORKERS_CLOSED: fault('service', 'A batch arrived while the processing workers were stopping; it is not committed and the next owner of the partition processes it.'),

  PROMETHEUS_UNREACHABLE: fault('report', 'The Prometheus server of `--prometheus-url` (or `report.prometheus_url`) does not answer.'),
  PROMETHEUS_QUERY_FAILED: fault('report', 'Prometheus answered a report query with an error.'),
  PROMETHEUS_BAD_RESPONSE: fault('report', 'The server at the Prometheus URL answered with something that is not the Prometheus HTTP API.'),
  OUTPUT_NOT_WRITABLE: fault('report', 'The report cannot be written to `--out`.'),
  WEBHOOK_FAILED: fault('report', 'The report could not be posted to `--webhook`.'),

  EMBEDDED_BROKER_NO_CC: fault('demo', 'The embedded broker needs a C compiler (cc) to build its launcher; install one (e.g. build-essential).'),
  EMBEDDED_BROKER_NO_PKG_CONFIG: fault('demo', 'The embedded broker needs pkg-config to find librdkafka.'),
  EMBEDDED_BROKER_NO_LIBRDKAFKA: fault('demo', 'The embedded broker needs the librdkafka development files (e.g. librdkafka-dev).'),
  EMBEDDED_BROKER_COMPILE_FAILED: fault('demo', "The embedded broker's launcher did not compile; the message has the compiler's output."),
  EMBEDDED_BROKER_START_FAILED: fault('demo', 'The embedded broker did not start or did not report ready in time.'),
  EMBEDDED_BROKER_COMMAND_FAILED: fault('demo', 'The embedded broker refused a command (e.g. creating a topic).'),
  EMBEDDED_BROKER_STOPPED: fault('demo', 'The embedded broker exited while it was still needed.'),
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;
/** Problems found in rule files (reported per problem, many per run). */
export type RuleProblemCode = Extract<ErrorCode, `E_${string}`>;
export type EmbeddedBrokerErrorCode = Extract<ErrorCode, `EMBEDDED_BROKER_${string}`>;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}
