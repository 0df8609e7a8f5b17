import type { Category, Owner, RetryDecision } from './taxonomy.ts';

export type Outcome = 'success' | 'error';

/** Which step of the lookup chain (docs/architecture.md#taxonomy) produced the verdict. */
export type MatchedBy =
  | 'entry'
  | 'status_code_entry'
  | 'code_entry'
  | 'status_rule'
  | 'error_type'
  | 'http_status'
  | 'no_response'
  | 'success';

/** A catalog entry as the classifier exposes it (see src/providers/catalog.schema.json). */
export interface CatalogEntry {
  readonly provider: string;
  readonly code: string;
  readonly status: number | null;
  readonly name: string | null;
  readonly operations: readonly string[] | null;
  readonly message: string | null;
  readonly messagePattern: RegExp | null;
  readonly category: Category;
  readonly retry: RetryDecision;
  readonly owner: Owner;
  readonly summary: string;
  readonly remediation: string;
}

export interface Classification {
  readonly outcome: Outcome;
  readonly provider: string;
  /** Resolved operation: the event's, else the endpoint table's, else `METHOD route`; null when nothing names it. */
  readonly operation: string | null;
  readonly statusCode: number | null;
  /** The provider's error code as a string (numeric codes in decimal); null on success or when none was found. */
  readonly code: string | null;
  readonly message: string | null;
  /** Null on success. */
  readonly category: Category | null;
  readonly retry: RetryDecision | null;
  readonly owner: Owner | null;
  /** True only when a catalog entry for the code matched. */
  readonly known: boolean;
  readonly field: string | null;
  readonly errorType: string | null;
  readonly correlationId: string | null;
  readonly idempotencyKey: string | null;
  readonly matchedBy: MatchedBy;
  /** The matched catalog entry, for remediation text; null unless `known`. */
  readonly entry: CatalogEntry | null;
  /** Remediation from the entry, a status rule or a type fallback; null when none applies. */
  readonly remediation: string | null;
}
