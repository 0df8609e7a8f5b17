// The registry of error codes is complete and documented: every code it lists is reported somewhere,
// and docs/errors.md lists every code (it is generated from the registry).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/error-codes.ts';
import { PaysignalError, usageError } from '../../src/errors.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

describe('error codes', () => {
  it('are each reported somewhere in src/ (no code is only declared)', () => {
    const text = sources(join(ROOT, 'src'))
      .filter((file) => !file.endsWith('error-codes.ts'))
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n');
    const unused = Object.keys(ERROR_CODES).filter((code) => !text.includes(`'${code}'`));
    expect(unused).toEqual([]);
  });

  it('are each listed in docs/errors.md with their exit status', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
    const missing = Object.entries(ERROR_CODES).filter(([code, info]) => !doc.includes(`| \`${code}\` | ${info.exitCode} |`));
    expect(missing.map(([code]) => code)).toEqual([]);
  });

  it('decide the exit status: 2 for the command line and configuration, 1 otherwise', () => {
    expect(usageError('--week must look like 2026-W47', '--week')).toMatchObject({ code: 'USAGE', field: '--week', exitCode: 2 });
    expect(new PaysignalError('CONFIG_INVALID', 'x').exitCode).toBe(2);
    expect(new PaysignalError('PROMETHEUS_UNREACHABLE', 'x').exitCode).toBe(1);
  });
});
