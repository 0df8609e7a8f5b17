// Which provider error is this, what kind of failure, and what should the caller do next?
// The lookup chain of docs/architecture.md#taxonomy, over the compiled catalogs.
import type { PaymentCallEvent } from '../events/event.ts';
import { firstScalar } from '../events/json-pointer.ts';
import { loadCatalogs, GENERIC_PROVIDER, type ProviderCatalog } from '../providers/registry.ts';
import type { FallbackVerdict, StatusRule } from '../providers/catalog.ts';
import type { CatalogEntry, Classification, MatchedBy } from './classification.ts';
import {
  DEFAULT_OWNER,
  NO_RESPONSE_WITH_KEY,
  NO_RESPONSE_WITHOUT_KEY,
  verdictForStatus,
  type Category,
  type Owner,
  type RetryDecision,
} from './taxonomy.ts';

export interface Classifier {
  classify(event: PaymentCallEvent): Classification;
  /** Catalog entries for a code (exact, else case-insensitive); empty when the code is not in the catalog. */
  explain(provider: string, code: string): readonly CatalogEntry[];
  /** True when `code` is in the provider's catalog: such codes may always be metric label values. */
  isCatalogCode(provider: string, code: string): boolean;
  readonly catalogs: ReadonlyMap<string, ProviderCatalog>;
  /**
   * Every header name (lower case) some catalog reads ids from: the decoder keeps these, so a
   * provider's header is declared once, in its catalog.
   */
  readonly idHeaders: ReadonlySet<string>;
}

/** A catalog with the header lists it is read with, resolved once at load (not per event). */
interface ProviderLookup {
  readonly catalog: ProviderCatalog;
  /** The provider's correlation headers, then the _generic ones. */
  readonly correlationHeaders: readonly string[];
  /** The provider's idempotency headers, then the _generic ones. */
  readonly idempotencyHeaders: readonly string[];
}

const INDEX = /\[\d+\]/g;

interface Verdict {
  readonly category: Category;
  readonly retry: RetryDecision;
  readonly owner: Owner;
  readonly remediation: string | null;
  readonly matchedBy: MatchedBy;
  readonly entry: CatalogEntry | null;
}

function fromEntry(entry: CatalogEntry, matchedBy: MatchedBy): Verdict {
  return { category: entry.category, retry: entry.retry, owner: entry.owner, remediation: entry.remediation, matchedBy, entry };
}

function headerValue(headers: Readonly<Record<string, string>>, names: readonly string[]): string | null {
  for (let i = 0; i < names.length; i++) {
    const value = headers[names[i]!];
    if (value !== undefined && value.length > 0) return value;
  }
  return null;
}

function specificity(entry: CatalogEntry): number {
  return (entry.messagePattern ? 4 : 0) + (entry.operations ? 2 : 0) + (entry.status !== null ? 1 : 0);
}

/** Steps 1-3 of the chain: (operation, status, code, message) -> (status, code) -> (code). */
function matchEntry(candidates: readonly CatalogEntry[], operation: string | null, status: number | null, message: string | null): { entry: CatalogEntry; tier: 1 | 2 | 3 } | null {
  let best: CatalogEntry | null = null;
  let bestScore = -1;
  for (let i = 0; i < candidates.length; i++) {
    const e = candidates[i]!;
    if (e.status !== null && e.status !== status) continue;
    if (e.operations !== null && (operation === null || !e.operations.includes(operation))) continue;
    if (e.messagePattern !== null && (message === null || !e.messagePattern.test(message))) continue;
    const score = specificity(e);
    if (score > bestScore) {
      best = e;
      bestScore = score;
    }
  }
  if (best) return { entry: best, tier: 1 };
  for (let i = 0; i < candidates.length; i++) {
    const e = candidates[i]!;
    if (e.status !== null && e.status === status && e.messagePattern === null) return { entry: e, tier: 2 };
  }
  for (let i = 0; i < candidates.length; i++) {
    const e = candidates[i]!;
    if (e.messagePattern === null) return { entry: e, tier: 3 };
  }
  return null;
}

function ruleApplies(rule: StatusRule, operation: string | null, status: number): boolean {
  if (rule.operations !== null && (operation === null || !rule.operations.has(operation))) return false;
  if (rule.except.has(status)) return false;
  if (rule.statuses !== null) return rule.statuses.has(status);
  return rule.range !== null && status >= rule.range[0] && status <= rule.range[1];
}

function findRule(rules: readonly StatusRule[], operation: string | null, status: number): StatusRule | null {
  for (let i = 0; i < rules.length; i++) if (ruleApplies(rules[i]!, operation, status)) return rules[i]!;
  return null;
}

function fromRule(rule: StatusRule, typeVerdict: FallbackVerdict | null, status: number): Verdict {
  // A rule that leaves the category open takes it from the error type, else from the status.
  const category = rule.category ?? typeVerdict?.category ?? verdictForStatus(status).category;
  return {
    category,
    retry: rule.retry,
    owner: rule.owner ?? DEFAULT_OWNER[category],
    remediation: rule.remediation,
    matchedBy: 'status_rule',
    entry: null,
  };
}

export function createClassifierFrom(catalogs: ReadonlyMap<string, ProviderCatalog>): Classifier {
  const genericCatalog = catalogs.get(GENERIC_PROVIDER);
  if (!genericCatalog) throw new Error(`the ${GENERIC_PROVIDER} catalog is missing`);
  const lookupOf = (catalog: ProviderCatalog): ProviderLookup => ({
    catalog,
    correlationHeaders: [...new Set([...catalog.headers.correlationId, ...genericCatalog.headers.correlationId])],
    idempotencyHeaders: [...new Set([...catalog.headers.idempotencyKey, ...genericCatalog.headers.idempotencyKey])],
  });
  const lookups = new Map<string, ProviderLookup>();
  for (const [id, catalog] of catalogs) lookups.set(id, lookupOf(catalog));
  const generic = lookups.get(GENERIC_PROVIDER)!;
  const idHeaders = new Set<string>();
  for (const lookup of lookups.values()) for (const name of [...lookup.correlationHeaders, ...lookup.idempotencyHeaders]) idHeaders.add(name);

  function entriesFor(catalog: ProviderCatalog, code: string): readonly CatalogEntry[] | undefined {
    return catalog.byCode.get(code) ?? catalog.byLowerCode.get(code.toLowerCase());
  }

  function resolveOperation(catalog: ProviderCatalog, event: PaymentCallEvent): string | null {
    if (event.operation !== null) return event.operation;
    if (event.method !== null && event.route !== null) {
      return catalog.operations.get(event.method)?.get(event.route) ?? `${event.method} ${event.route}`;
    }
    return null;
  }

  function verdictFor(catalog: ProviderCatalog, operation: string | null, status: number, code: string | null, message: string | null, errorType: string | null): Verdict {
    const candidates = code === null ? undefined : entriesFor(catalog, code);
    const match = candidates ? matchEntry(candidates, operation, status, message) : null;
    if (match && match.tier < 3) return fromEntry(match.entry, match.tier === 1 ? 'entry' : 'status_code_entry');
    const typeVerdict = errorType === null ? null : catalog.typeFallback.get(errorType) ?? null;
    const exactRule = findRule(catalog.exactStatusRules, operation, status);
    if (exactRule) return fromRule(exactRule, typeVerdict, status);
    if (match) return fromEntry(match.entry, 'code_entry');
    const rangeRule = findRule(catalog.rangeStatusRules, operation, status);
    if (rangeRule) return fromRule(rangeRule, typeVerdict, status);
    if (typeVerdict) {
      return {
        category: typeVerdict.category,
        retry: typeVerdict.retry,
        owner: typeVerdict.owner ?? DEFAULT_OWNER[typeVerdict.category],
        remediation: typeVerdict.remediation,
        matchedBy: 'error_type',
        entry: null,
      };
    }
    const byStatus = verdictForStatus(status);
    return { category: byStatus.category, retry: byStatus.retry, owner: DEFAULT_OWNER[byStatus.category], remediation: null, matchedBy: 'http_status', entry: null };
  }

  function fieldFrom(catalog: ProviderCatalog, body: unknown, message: string | null): string | null {
    const direct = firstScalar(body, catalog.extract.field);
    if (direct !== null) return direct;
    if (message === null) return null;
    for (const { pattern, normalizeIndices } of catalog.extract.fieldFromMessage) {
      const field = pattern.exec(message)?.groups?.field;
      if (field) return normalizeIndices ? field.replace(INDEX, '[X]') : field;
    }
    return null;
  }

  return {
    catalogs,
    idHeaders,
    explain(provider, code) {
      const catalog = catalogs.get(provider.toLowerCase());
      return catalog ? entriesFor(catalog, code) ?? [] : [];
    },
    isCatalogCode(provider, code) {
      return catalogs.get(provider)?.byCode.has(code) ?? false;
    },
    classify(event) {
      const lookup = lookups.get(event.provider) ?? generic;
      const catalog = lookup.catalog;
      const operation = resolveOperation(catalog, event);
      const body = event.body;
      const structured = body !== null && typeof body === 'object';
      const idempotencyKey = event.idempotencyKey ?? headerValue(event.requestHeaders, lookup.idempotencyHeaders);
      const correlationId =
        event.correlationId ??
        (structured ? firstScalar(body, catalog.extract.correlationId) : null) ??
        headerValue(event.responseHeaders, lookup.correlationHeaders) ??
        headerValue(event.requestHeaders, lookup.correlationHeaders) ??
        idempotencyKey;
      const status = event.statusCode;

      if (status !== null && status < 400) {
        return {
          outcome: 'success', provider: event.provider, operation, statusCode: status, code: null, message: null,
          category: null, retry: null, owner: null, known: false, field: null, errorType: null,
          correlationId, idempotencyKey, matchedBy: 'success', entry: null, remediation: null,
        };
      }
      if (status === null) {
        const verdict = idempotencyKey !== null ? NO_RESPONSE_WITH_KEY : NO_RESPONSE_WITHOUT_KEY;
        return {
          outcome: 'error', provider: event.provider, operation, statusCode: null, code: null, message: null,
          category: verdict.category, retry: verdict.retry, owner: DEFAULT_OWNER[verdict.category], known: false, field: null,
          errorType: event.networkError ?? 'no_response', correlationId, idempotencyKey, matchedBy: 'no_response', entry: null,
          remediation: idempotencyKey !== null
            ? 'No response arrived. Retry later with the same idempotency key; the provider deduplicates it.'
            : 'No response arrived and the call had no idempotency key: read the resource first, the operation may have happened.',
        };
      }
      const code = structured ? firstScalar(body, catalog.extract.code) : null;
      const message = structured ? firstScalar(body, catalog.extract.message) : null;
      const errorType = structured ? firstScalar(body, catalog.extract.type) : null;
      const verdict = verdictFor(catalog, operation, status, code, message, errorType);
      return {
        outcome: 'error',
        provider: event.provider,
        operation,
        statusCode: status,
        code,
        message,
        category: verdict.category,
        retry: verdict.retry,
        owner: verdict.owner,
        known: verdict.entry !== null,
        field: structured ? fieldFrom(catalog, body, message) : null,
        errorType,
        correlationId,
        idempotencyKey,
        matchedBy: verdict.matchedBy,
        entry: verdict.entry,
        remediation: verdict.remediation,
      };
    },
  };
}

export async function createClassifier(catalogDir?: string): Promise<Classifier> {
  return createClassifierFrom(await loadCatalogs(catalogDir));
}
