// Errors a user can act on: a stable code to search and alert on, and a message that names the
// file, line and field where that applies.

export class PaysignalError extends Error {
  readonly code: string;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly field: string | undefined;

  constructor(code: string, message: string, where: { file?: string; line?: number; field?: string; cause?: unknown } = {}) {
    super(message, where.cause === undefined ? undefined : { cause: where.cause });
    this.name = 'PaysignalError';
    this.code = code;
    this.file = where.file;
    this.line = where.line;
    this.field = where.field;
  }

  /** `CODE file:line: field: message`, omitting the parts that do not apply. */
  describe(): string {
    const location = this.file === undefined ? '' : `${this.file}${this.line === undefined ? '' : `:${this.line}`}: `;
    const field = this.field === undefined ? '' : `${this.field}: `;
    return `${this.code} ${location}${field}${this.message}`;
  }
}
