// Errors a user can act on: a registered code (src/error-codes.ts, docs/errors.md) to search and
// alert on, and a message that names the file, line, column and setting where that applies.
import { ERROR_CODES, type ErrorCode } from './error-codes.ts';
import { formatDiagnostic, type PathSegment } from './kernel/diagnostic.ts';
import type { SchemaProblem } from './kernel/schema.ts';
import type { YamlSource } from './kernel/yaml.ts';

export type { ErrorCode } from './error-codes.ts';

export interface ErrorLocation {
  readonly file?: string | undefined;
  readonly line?: number | undefined;
  readonly column?: number | undefined;
  /** The setting, field, option or environment variable at fault (`kafka.brokers`, `--week`, `KAFKA_SSL`). */
  readonly field?: string | undefined;
  readonly cause?: unknown;
}

export class PaysignalError extends Error {
  readonly code: ErrorCode;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, where: ErrorLocation = {}) {
    super(message, where.cause === undefined ? undefined : { cause: where.cause });
    this.name = 'PaysignalError';
    this.code = code;
    this.file = where.file;
    this.line = where.line;
    this.column = where.column;
    this.field = where.field;
  }

  /** How the `paysignal` command exits when this error ends it. */
  get exitCode(): number {
    return ERROR_CODES[this.code].exitCode;
  }

  /** `file:line:column: CODE field: message`, leaving out the parts that do not apply. */
  describe(): string {
    return formatDiagnostic({ code: this.code, file: this.file, line: this.line, column: this.column, path: this.field, message: this.message });
  }
}

/** A wrong command line: the one code (USAGE, exit status 2) every command reports it with. */
export function usageError(message: string, option?: string): PaysignalError {
  return new PaysignalError('USAGE', message, option === undefined ? {} : { field: option });
}

/** An error at the value `path` of a YAML source (or its closest existing parent). */
export function errorAt(code: ErrorCode, source: YamlSource, path: readonly PathSegment[] | string, message: string, field?: string): PaysignalError {
  return new PaysignalError(code, message, { file: source.file, ...source.positionOf(path), ...(field === undefined || field === '' ? {} : { field }) });
}

/** The first syntax error of a YAML source as a PaysignalError; null when it parsed. */
export function yamlSyntaxError(code: ErrorCode, source: YamlSource): PaysignalError | null {
  const first = source.syntaxErrors[0];
  if (first === undefined) return null;
  return new PaysignalError(code, first.message, { file: source.file, line: first.line, column: first.column });
}

/** A schema problem as a PaysignalError at its position in the YAML source. */
export function schemaError(code: ErrorCode, source: YamlSource, problem: SchemaProblem): PaysignalError {
  return errorAt(code, source, problem.segments, problem.message, problem.path);
}
