// The shared taxonomy (docs/architecture.md#taxonomy). Plain string unions so the values stay JSON-friendly.

export const CATEGORIES = [
  'validation',
  'authentication',
  'merchant_config',
  'idempotency',
  'state_conflict',
  'not_found',
  'rate_limit',
  'provider_error',
  'timeout',
  'declined',
  'unknown',
] as const;
export type Category = (typeof CATEGORIES)[number];

export const RETRY_DECISIONS = [
  'retry_with_backoff',
  'retry_same_key_later',
  'reconcile_before_retry',
  'fix_and_resubmit',
  'new_checkout',
  'reauthenticate',
  'contact_provider',
  'do_not_retry',
] as const;
export type RetryDecision = (typeof RETRY_DECISIONS)[number];

export const OWNERS = ['integration', 'merchant_account', 'provider', 'customer'] as const;
export type Owner = (typeof OWNERS)[number];

/** Decisions after which sending the same request again cannot succeed (docs/architecture.md#correlation-and-keying-across-replicas). */
export const NON_RETRYABLE: ReadonlySet<RetryDecision> = new Set<RetryDecision>([
  'do_not_retry',
  'new_checkout',
  'contact_provider',
  'fix_and_resubmit',
]);

export interface Verdict {
  readonly category: Category;
  readonly retry: RetryDecision;
}

const v = (category: Category, retry: RetryDecision): Verdict => Object.freeze({ category, retry });

const VALIDATION = v('validation', 'fix_and_resubmit');
const PROVIDER_ERROR = v('provider_error', 'retry_with_backoff');
const UNKNOWN = v('unknown', 'do_not_retry');
const STATUS_FALLBACK = new Map<number, Verdict>([
  [400, VALIDATION],
  [422, VALIDATION],
  [401, v('authentication', 'reauthenticate')],
  [403, v('merchant_config', 'contact_provider')],
  [404, v('not_found', 'do_not_retry')],
  [410, v('not_found', 'do_not_retry')],
  [408, v('timeout', 'reconcile_before_retry')],
  [504, v('timeout', 'reconcile_before_retry')],
  [409, v('state_conflict', 'reconcile_before_retry')],
  [423, v('idempotency', 'retry_same_key_later')],
  [429, v('rate_limit', 'retry_with_backoff')],
]);

/** HTTP status fallback of docs/architecture.md#taxonomy; also the whole answer for providers we do not know. */
export function verdictForStatus(status: number): Verdict {
  const exact = STATUS_FALLBACK.get(status);
  if (exact) return exact;
  if (status >= 500) return PROVIDER_ERROR;
  // Other 4xx carry no documented meaning beyond "the request was wrong".
  if (status >= 400) return UNKNOWN;
  return UNKNOWN;
}

export const NO_RESPONSE_WITH_KEY = v('timeout', 'retry_same_key_later');
export const NO_RESPONSE_WITHOUT_KEY = v('timeout', 'reconcile_before_retry');

/** Who acts when neither an entry nor a rule says: our judgment per category. */
export const DEFAULT_OWNER: Readonly<Record<Category, Owner>> = {
  validation: 'integration',
  authentication: 'integration',
  merchant_config: 'merchant_account',
  idempotency: 'integration',
  state_conflict: 'integration',
  not_found: 'integration',
  rate_limit: 'integration',
  provider_error: 'provider',
  timeout: 'provider',
  declined: 'customer',
  unknown: 'integration',
};
