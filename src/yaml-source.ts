// YAML files parsed with positions kept, so a schema problem can be reported as file:line.
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { PaysignalError } from './errors.ts';
import type { SchemaProblem } from './schema.ts';

export interface YamlSource {
  readonly file: string;
  readonly data: unknown;
  /** 1-based line of the value at a dotted path (or of its closest existing parent). */
  lineOf(path: string): number | undefined;
}

export function parseYamlSource(text: string, file: string, errorCode: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    // With prettyErrors off the error carries offsets, not positions: the line counter maps them.
    const line = lineCounter.linePos(first.pos[0]).line;
    throw new PaysignalError(errorCode, `YAML syntax error: ${first.message.split('\n')[0]}`, { file, ...(line === undefined ? {} : { line }) });
  }
  return {
    file,
    data: doc.toJS(),
    lineOf(path) {
      const segments: (string | number)[] = path === '' ? [] : path.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s));
      for (let n = segments.length; n >= 0; n--) {
        const node = doc.getIn(segments.slice(0, n), true);
        if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
      }
      return undefined;
    },
  };
}

/** A PaysignalError for a schema problem, located at its line in the YAML source. */
export function schemaError(source: YamlSource, problem: SchemaProblem, errorCode: string): PaysignalError {
  const line = source.lineOf(problem.path);
  return new PaysignalError(errorCode, problem.message, {
    file: source.file,
    ...(line === undefined ? {} : { line }),
    ...(problem.path === '' ? {} : { field: problem.path }),
  });
}
