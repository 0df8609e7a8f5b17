// A provider catalog compiled for lookups: the YAML data (see catalog.schema.json) turned into
// maps, precompiled pointers and regular expressions, once, at load.
import type { CatalogEntry } from '../classify/classification.ts';
import type { Category, Owner, RetryDecision } from '../classify/taxonomy.ts';
import { compilePointer, type CompiledPointer } from '../events/json-pointer.ts';
import { PaysignalError } from '../errors.ts';
import { pathText, pathSegments } from '../kernel/diagnostic.ts';
import type { YamlSource } from '../kernel/yaml.ts';

export interface CatalogFile {
  provider: string;
  display_name: string;
  seed: string;
  docs?: string;
  extract: {
    code?: string[];
    message?: string[];
    field?: string[];
    type?: string[];
    correlation_id?: string[];
    field_from_message?: { pattern: string; normalize_indices?: boolean }[];
  };
  headers?: { correlation_id?: string[]; idempotency_key?: string[] };
  operations?: { method: string; route: string; operation: string }[];
  type_fallback?: Record<string, { category: Category; retry: RetryDecision; owner?: Owner; remediation?: string }>;
  status_rules?: {
    operations?: string[];
    status?: number[];
    status_range?: [number, number];
    except?: number[];
    category?: Category;
    retry: RetryDecision;
    owner?: Owner;
    remediation: string;
  }[];
  entries: {
    code: string;
    status?: number;
    name?: string;
    operations?: string[];
    message?: string;
    message_pattern?: string;
    category: Category;
    retry: RetryDecision;
    owner: Owner;
    summary: string;
    remediation: string;
  }[];
}

export interface FieldPattern {
  readonly pattern: RegExp;
  readonly normalizeIndices: boolean;
}

export interface FallbackVerdict {
  readonly category: Category;
  readonly retry: RetryDecision;
  readonly owner: Owner | null;
  readonly remediation: string | null;
}

export interface StatusRule {
  readonly operations: ReadonlySet<string> | null;
  readonly statuses: ReadonlySet<number> | null;
  readonly range: readonly [number, number] | null;
  readonly except: ReadonlySet<number>;
  readonly category: Category | null;
  readonly retry: RetryDecision;
  readonly owner: Owner | null;
  readonly remediation: string;
}

export interface ProviderCatalog {
  readonly provider: string;
  readonly displayName: string;
  readonly seed: string;
  readonly docs: string | null;
  readonly entries: readonly CatalogEntry[];
  /** Entries per exact code, in file order. */
  readonly byCode: ReadonlyMap<string, readonly CatalogEntry[]>;
  /** Entries per lower-cased code, for providers that vary the case of their codes. */
  readonly byLowerCode: ReadonlyMap<string, readonly CatalogEntry[]>;
  readonly extract: {
    readonly code: readonly CompiledPointer[];
    readonly message: readonly CompiledPointer[];
    readonly field: readonly CompiledPointer[];
    readonly type: readonly CompiledPointer[];
    readonly correlationId: readonly CompiledPointer[];
    readonly fieldFromMessage: readonly FieldPattern[];
  };
  /** The provider's own id headers, lower-cased, in file order (the _generic catalog's come after them). */
  readonly headers: {
    readonly correlationId: readonly string[];
    readonly idempotencyKey: readonly string[];
  };
  /** method -> route template -> operation. */
  readonly operations: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly typeFallback: ReadonlyMap<string, FallbackVerdict>;
  /** Rules naming exact statuses: they outrank a match on the code alone. */
  readonly exactStatusRules: readonly StatusRule[];
  /** Rules over status ranges: tried after every code match. */
  readonly rangeStatusRules: readonly StatusRule[];
}

function compileRegex(source: string, where: ReturnType<typeof at>): RegExp {
  try {
    return new RegExp(source, 'i');
  } catch (error) {
    throw new PaysignalError('CATALOG_INVALID', `not a valid regular expression: ${(error as Error).message}`, where);
  }
}

function at(source: YamlSource, dotted: string): { file: string; line?: number; column?: number; field: string } {
  const segments = pathSegments(dotted);
  return { file: source.file, ...source.positionOf(segments), field: pathText(segments) };
}

export function compileCatalog(file: CatalogFile, source: YamlSource): ProviderCatalog {
  const entries: CatalogEntry[] = file.entries.map((e, i) =>
    Object.freeze({
      provider: file.provider,
      code: e.code,
      status: e.status ?? null,
      name: e.name ?? null,
      operations: e.operations ? Object.freeze([...e.operations]) : null,
      message: e.message ?? null,
      messagePattern: e.message_pattern === undefined ? null : compileRegex(e.message_pattern, at(source, `entries.${i}.message_pattern`)),
      category: e.category,
      retry: e.retry,
      owner: e.owner,
      summary: e.summary,
      remediation: e.remediation,
    }),
  );

  const seen = new Map<string, number>();
  entries.forEach((e, i) => {
    const identity = [e.code, e.status, e.operations?.join(','), e.messagePattern?.source].join('|');
    const previous = seen.get(identity);
    if (previous !== undefined) {
      throw new PaysignalError('CATALOG_INVALID', `entry duplicates entries.${previous} (same code, status, operations and message pattern)`, at(source, `entries.${i}`));
    }
    seen.set(identity, i);
  });

  const byCode = new Map<string, CatalogEntry[]>();
  const byLowerCode = new Map<string, CatalogEntry[]>();
  for (const entry of entries) {
    (byCode.get(entry.code) ?? byCode.set(entry.code, []).get(entry.code)!).push(entry);
    const lower = entry.code.toLowerCase();
    (byLowerCode.get(lower) ?? byLowerCode.set(lower, []).get(lower)!).push(entry);
  }

  const fieldFromMessage = (file.extract.field_from_message ?? []).map((p, i) => {
    const pattern = compileRegex(p.pattern, at(source, `extract.field_from_message.${i}.pattern`));
    if (!p.pattern.includes('(?<field>')) {
      throw new PaysignalError('CATALOG_INVALID', 'pattern needs a named group (?<field>...)', at(source, `extract.field_from_message.${i}.pattern`));
    }
    return { pattern, normalizeIndices: p.normalize_indices ?? false };
  });

  const operations = new Map<string, Map<string, string>>();
  for (const op of file.operations ?? []) {
    (operations.get(op.method) ?? operations.set(op.method, new Map()).get(op.method)!).set(op.route, op.operation);
  }

  const typeFallback = new Map<string, FallbackVerdict>();
  for (const [type, verdict] of Object.entries(file.type_fallback ?? {})) {
    typeFallback.set(type, { category: verdict.category, retry: verdict.retry, owner: verdict.owner ?? null, remediation: verdict.remediation ?? null });
  }

  const rules: StatusRule[] = (file.status_rules ?? []).map((r, i) => {
    if ((r.status === undefined) === (r.status_range === undefined)) {
      throw new PaysignalError('CATALOG_INVALID', 'a status rule needs exactly one of `status` or `status_range`', at(source, `status_rules.${i}`));
    }
    return {
      operations: r.operations ? new Set(r.operations) : null,
      statuses: r.status ? new Set(r.status) : null,
      range: r.status_range ?? null,
      except: new Set(r.except ?? []),
      category: r.category ?? null,
      retry: r.retry,
      owner: r.owner ?? null,
      remediation: r.remediation,
    };
  });

  const headerNames = (list: string[] | undefined): readonly string[] => Object.freeze([...new Set((list ?? []).map((h) => h.toLowerCase()))]);
  const pointers = (list: string[] | undefined): CompiledPointer[] => (list ?? []).map(compilePointer);
  return {
    provider: file.provider,
    displayName: file.display_name,
    seed: file.seed,
    docs: file.docs ?? null,
    entries: Object.freeze(entries),
    byCode,
    byLowerCode,
    extract: {
      code: pointers(file.extract.code),
      message: pointers(file.extract.message),
      field: pointers(file.extract.field),
      type: pointers(file.extract.type),
      correlationId: pointers(file.extract.correlation_id),
      fieldFromMessage,
    },
    headers: { correlationId: headerNames(file.headers?.correlation_id), idempotencyKey: headerNames(file.headers?.idempotency_key) },
    operations,
    typeFallback,
    exactStatusRules: rules.filter((r) => r.statuses !== null),
    rangeStatusRules: rules.filter((r) => r.range !== null),
  };
}
