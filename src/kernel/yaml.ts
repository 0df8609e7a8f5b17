// YAML documents parsed with their positions kept, so a problem found in the data (by a schema or a
// later check) is reported at its file, line and column.
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { pathSegments, type PathSegment } from './diagnostic.ts';

export interface Position {
  readonly line?: number;
  readonly column?: number;
}

export interface YamlSyntaxError extends Position {
  readonly message: string;
}

export interface YamlSource {
  readonly file: string;
  /** The document as plain data; undefined when it has syntax errors. */
  readonly data: unknown;
  /** Every syntax error, in document order; empty when the document parsed. */
  readonly syntaxErrors: readonly YamlSyntaxError[];
  /** Position of the value at a path (segments or `a.b[0]` text), or of its closest existing parent. */
  positionOf(path: readonly PathSegment[] | string): Position;
}

export function parseYamlSource(text: string, file: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  // With prettyErrors off the errors carry offsets, not positions: the line counter maps them.
  const syntaxErrors = doc.errors.map((e): YamlSyntaxError => {
    const pos = lineCounter.linePos(e.pos[0]);
    return { message: `YAML syntax error: ${e.message.split('\n')[0]}`, line: pos.line, column: pos.col };
  });
  return {
    file,
    data: syntaxErrors.length > 0 ? undefined : doc.toJS(),
    syntaxErrors,
    positionOf(path) {
      const segments = typeof path === 'string' ? pathSegments(path) : path;
      for (let n = segments.length; n >= 0; n--) {
        const node = doc.getIn(segments.slice(0, n), true);
        if (isNode(node) && node.range) {
          const pos = lineCounter.linePos(node.range[0]);
          return { line: pos.line, column: pos.col };
        }
      }
      return {};
    },
  };
}
