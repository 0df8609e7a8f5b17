// The one way paysignal reports a problem in a file or setting, as compilers do:
// `file:line:column: CODE path: message`, leaving out the parts that do not apply. Configuration,
// rule files, catalogs and mappings all print it, so editors and scripts can jump to the spot.

/** A key of a mapping or an index of a list, on the way from a document's root to a value. */
export type PathSegment = string | number;

export interface Diagnostic {
  readonly code: string;
  readonly file?: string | undefined;
  /** 1-based. */
  readonly line?: number | undefined;
  /** 1-based. */
  readonly column?: number | undefined;
  /** Path of the value (`rules[0].window`, `kafka.brokers`) or the environment variable at fault. */
  readonly path?: string | undefined;
  readonly message: string;
}

/** `rules[0].baseline.lookback` from its segments. */
export function pathText(segments: readonly PathSegment[]): string {
  let out = '';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : out === '' ? s : `.${s}`;
  return out;
}

/** Segments of a path written by pathText (or dotted, as people write config keys). */
export function pathSegments(path: string): PathSegment[] {
  if (path === '') return [];
  const out: PathSegment[] = [];
  for (const part of path.split('.')) {
    const [name, ...indexes] = part.split('[');
    if (name !== undefined && name !== '') out.push(/^\d+$/.test(name) ? Number(name) : name);
    for (const index of indexes) out.push(Number(index.replace(']', '')));
  }
  return out;
}

export function formatDiagnostic(d: Diagnostic): string {
  const where =
    d.file === undefined ? '' : `${d.file}${d.line === undefined ? '' : `:${d.line}${d.column === undefined ? '' : `:${d.column}`}`}: `;
  const path = d.path === undefined || d.path === '' ? '' : ` ${d.path}:`;
  return `${where}${d.code}${path} ${d.message}`;
}
