// Seed coverage: every error code in the providers' own documentation (shared/seeds) is in our
// catalogs, with the seed's HTTP status, and with the verdict DESIGN.md section 3 fixes for it.
// The tables below are written out by hand from the seeds on purpose: they are the specification
// the catalog data is checked against, so a code dropped or remapped in the YAML fails here.
import { describe, it, expect } from 'vitest';
import { loadCatalogs } from '../../src/providers/registry.ts';
import type { CatalogEntry } from '../../src/classify/classification.ts';
import type { Category, RetryDecision } from '../../src/classify/taxonomy.ts';

interface SeedCode {
  readonly code: string;
  /** HTTP status as the seed gives it; null where the seed gives none. */
  readonly status: number | null;
  /** DESIGN.md section 3 "Starting mapping". */
  readonly category: Category;
  readonly retry: RetryDecision;
  /** A seed message that selects a message-level entry (Kustom); absent for the code's default entry. */
  readonly message?: string;
  /** The seed's symbolic name (Setel). */
  readonly name?: string;
  /** The endpoints the seed lists the code under (Mercado Pago). */
  readonly operations?: readonly string[];
}

const row = (
  code: string,
  status: number | null,
  category: Category,
  retry: RetryDecision,
  extra: Partial<Pick<SeedCode, 'message' | 'name' | 'operations'>> = {},
): SeedCode => ({ code, status, category, retry, ...extra });

// seed 000: Mercado Pago Checkout Pro, Orders API, errors per endpoint.
const create = ['create_order'];
const MERCADOPAGO: readonly SeedCode[] = [
  // POST /v1/orders
  row('empty_required_header', 400, 'validation', 'fix_and_resubmit', { operations: ['create_order', 'cancel_order'] }),
  row('invalid_idempotency_key_length', 400, 'validation', 'fix_and_resubmit', { operations: create }),
  row('required_properties', 400, 'validation', 'fix_and_resubmit', { operations: create }),
  row('invalid_total_amount', 400, 'validation', 'fix_and_resubmit', { operations: create }),
  row('maximum_items', 400, 'validation', 'fix_and_resubmit', { operations: create }),
  row('property_value', 400, 'validation', 'fix_and_resubmit', { operations: create }),
  row('property_type', 400, 'validation', 'fix_and_resubmit', { operations: create }),
  row('json_syntax_error', 400, 'validation', 'fix_and_resubmit', { operations: create }),
  row('invalid_email_for_sandbox', 400, 'validation', 'fix_and_resubmit', { operations: create }),
  row('invalid_credentials', 401, 'authentication', 'reauthenticate', { operations: create }),
  row('status_detail', 402, 'declined', 'new_checkout', { operations: create }),
  row('idempotency_key_already_used', 409, 'idempotency', 'reconcile_before_retry', { operations: create }),
  row('pseudotoken_payment_method_gone', 410, 'declined', 'new_checkout', { operations: create }),
  row('resource_locked', 423, 'idempotency', 'retry_same_key_later', { operations: create }),
  row('internal_error', 500, 'provider_error', 'retry_same_key_later', { operations: create }),
  // GET /v1/orders/{id} and POST /v1/orders/{id}/cancel
  row('invalid_path_param', 400, 'validation', 'fix_and_resubmit', { operations: ['get_order', 'cancel_order'] }),
  row('order_not_found', 404, 'not_found', 'do_not_retry', { operations: ['get_order', 'cancel_order'] }),
  row('cannot_cancel_order', 409, 'state_conflict', 'do_not_retry', { operations: ['cancel_order'] }),
  row('order_already_cancelled', 409, 'state_conflict', 'do_not_retry', { operations: ['cancel_order'] }),
  // POST /v1/orders/{id}/refund
  row('refund_amount_exceeds', 400, 'validation', 'fix_and_resubmit', { operations: ['refund_order'] }),
  row('order_refund_already_in_process', 400, 'state_conflict', 'reconcile_before_retry', { operations: ['refund_order'] }),
  row('transaction_not_found', 404, 'not_found', 'do_not_retry', { operations: ['refund_order'] }),
  row('cannot_refund_order', 409, 'state_conflict', 'do_not_retry', { operations: ['refund_order'] }),
];

// seed 001: Kustom Checkout, errors in checkout.
const KUSTOM: readonly SeedCode[] = [
  row('BAD_VALUE', 400, 'validation', 'fix_and_resubmit'),
  row('BAD_VALUE', 409, 'state_conflict', 'new_checkout'),
  row('UNAUTHORIZED', 401, 'authentication', 'reauthenticate'),
  row('INVALID_OPERATION', 403, 'merchant_config', 'contact_provider'),
  row('INVALID_OPERATION', 403, 'state_conflict', 'new_checkout', { message: 'Authorization token already consumed' }),
  row('MERCHANT_INACTIVE', 403, 'merchant_config', 'contact_provider'),
  row('REJECTED', 403, 'declined', 'new_checkout'),
  row('NOT_FOUND', 404, 'not_found', 'new_checkout'),
  row('SESSION_COMPLETED', 404, 'state_conflict', 'do_not_retry'),
  row('INTERNAL_SERVER_ERROR', 500, 'provider_error', 'new_checkout'),
];

// seed 002: Setel Checkout; numeric codes with names, no HTTP status.
const SETEL: readonly SeedCode[] = [
  row('9300001', null, 'provider_error', 'retry_with_backoff', { name: 'INTERNAL_SERVER_ERROR' }),
  row('9300002', null, 'authentication', 'reauthenticate', { name: 'AUTHORIZATION_ERROR' }),
  row('9300003', null, 'authentication', 'reauthenticate', { name: 'UNAUTHORIZED' }),
  row('9300004', null, 'validation', 'fix_and_resubmit', { name: 'VALIDATION_ERROR' }),
  row('9300005', null, 'provider_error', 'retry_with_backoff', { name: 'SERVICE_UNAVAILABLE' }),
  row('9300006', null, 'merchant_config', 'contact_provider', { name: 'INVALID_CONFIGURATION' }),
  row('9300007', null, 'provider_error', 'retry_with_backoff', { name: 'EXTERNAL_SERVER_ERROR' }),
  row('9300011', null, 'authentication', 'reauthenticate', { name: 'ACCESS_TOKEN_REQUIRED' }),
  row('9300012', null, 'authentication', 'reauthenticate', { name: 'INVALID_JWT_TOKEN' }),
  row('9300013', null, 'authentication', 'reauthenticate', { name: 'JWT_TOKEN_EXPIRED' }),
  row('9300014', null, 'authentication', 'do_not_retry', { name: 'INVALID_RESET_PASSWORD_TOKEN' }),
  row('9300015', null, 'merchant_config', 'contact_provider', { name: 'INVALID_NAMESPACE' }),
  row('9300100', null, 'not_found', 'new_checkout', { name: 'SESSION_NOT_FOUND' }),
  row('9300101', null, 'idempotency', 'reconcile_before_retry', { name: 'REFERENCE_ID_EXISTED' }),
  row('9300102', null, 'state_conflict', 'do_not_retry', { name: 'SESSION_ALREADY_COMPLETED' }),
  row('9300103', null, 'state_conflict', 'do_not_retry', { name: 'SESSION_PAYMENT_ALREADY_COMPLETED' }),
  row('9300104', null, 'state_conflict', 'do_not_retry', { name: 'SESSION_ALREADY_SUCCEEDED' }),
  row('9300105', null, 'state_conflict', 'new_checkout', { name: 'SESSION_ALREADY_EXPIRED' }),
  row('9300106', null, 'state_conflict', 'new_checkout', { name: 'SESSION_ALREADY_CANCELLED' }),
  row('9300107', null, 'state_conflict', 'new_checkout', { name: 'SESSION_ALREADY_FAILED' }),
  row('9300108', null, 'idempotency', 'reconcile_before_retry', { name: 'PAYMENT_INTENT_EXISTED' }),
  row('9300109', null, 'state_conflict', 'new_checkout', { name: 'INVALID_SESSION' }),
  row('9300110', null, 'validation', 'fix_and_resubmit', { name: 'MISMATCH_PAYMENT_AMOUNT' }),
  row('9300111', null, 'provider_error', 'reconcile_before_retry', { name: 'INVALID_TRANSACTION_STATUS' }),
  row('9300112', null, 'state_conflict', 'reconcile_before_retry', { name: 'SESSION_COULD_NOT_CAPTURE' }),
  row('9300113', null, 'validation', 'fix_and_resubmit', { name: 'INVALID_CAPTURE_AMOUNT' }),
  row('9300114', null, 'validation', 'fix_and_resubmit', { name: 'MISSING_PIN_TOKEN' }),
  row('9300115', null, 'state_conflict', 'reconcile_before_retry', { name: 'SESSION_COULD_NOT_CANCEL' }),
  row('9300300', null, 'validation', 'fix_and_resubmit', { name: 'INVALID_CUSTOMER' }),
  row('9300400', null, 'authentication', 'reauthenticate', { name: 'API_KEY_NOT_FOUND' }),
  row('9300401', null, 'authentication', 'reauthenticate', { name: 'INVALID_ACCESS_TOKEN' }),
  row('9300402', null, 'merchant_config', 'contact_provider', { name: 'INVALID_PAYMENT_PROCESSOR' }),
];

// seed 003: Digital River, handling a rejected order; rules by status, no codes.
const DIGITALRIVER: readonly SeedCode[] = [];

// seed 004: StableGenius error codes.
const STABLEGENIUS: readonly SeedCode[] = [
  row('amount_out_of_range', 400, 'validation', 'fix_and_resubmit'),
  row('invalid_currency', 400, 'validation', 'fix_and_resubmit'),
  row('invalid_merchant', 400, 'validation', 'fix_and_resubmit'),
  row('merchant_not_found', 404, 'not_found', 'do_not_retry'),
  row('merchant_not_active', 422, 'merchant_config', 'contact_provider'),
  row('intent_not_cancellable', 409, 'state_conflict', 'do_not_retry'),
  row('idempotency_key_conflict', 409, 'idempotency', 'fix_and_resubmit'),
  row('ttl_out_of_range', 400, 'validation', 'fix_and_resubmit'),
  row('missing_api_key', 401, 'authentication', 'reauthenticate'),
  row('invalid_api_key', 401, 'authentication', 'reauthenticate'),
  row('revoked_api_key', 401, 'authentication', 'reauthenticate'),
  row('environment_mismatch', 403, 'merchant_config', 'fix_and_resubmit'),
  row('invalid_webhook_url', 400, 'validation', 'fix_and_resubmit'),
  row('webhook_unreachable', 422, 'merchant_config', 'fix_and_resubmit'),
  row('rate_limit_exceeded', 429, 'rate_limit', 'retry_with_backoff'),
];

const SEEDS: Readonly<Record<string, readonly SeedCode[]>> = {
  mercadopago: MERCADOPAGO,
  kustom: KUSTOM,
  setel: SETEL,
  digitalriver: DIGITALRIVER,
  stablegenius: STABLEGENIUS,
};
const PROVIDERS = Object.keys(SEEDS);

const catalogs = await loadCatalogs();
const entriesOf = (provider: string): readonly CatalogEntry[] => catalogs.get(provider)?.entries ?? [];
const label = (s: SeedCode): string =>
  `${s.code} (${s.status ?? 'no status'})${s.message ? ` "${s.message}"` : ''}`;

/** The catalog entries that implement one seed row. */
function entriesFor(provider: string, s: SeedCode): CatalogEntry[] {
  return entriesOf(provider).filter(
    (e) =>
      e.code === s.code &&
      e.status === s.status &&
      (s.message === undefined ? e.messagePattern === null : (e.messagePattern?.test(s.message) ?? false)),
  );
}

/**
 * The seed row a catalog entry must agree with: a message-level entry follows the seed row whose
 * message it matches, and otherwise (an extra message refinement the mapping does not name) the
 * code's default row.
 */
function seedRowFor(provider: string, e: CatalogEntry): SeedCode | undefined {
  const rows = SEEDS[provider]!.filter((s) => s.code === e.code && s.status === e.status);
  const byMessage = e.messagePattern
    ? rows.find((s) => s.message !== undefined && e.messagePattern!.test(s.message))
    : undefined;
  return byMessage ?? rows.find((s) => s.message === undefined);
}

describe('seed coverage of the provider catalogs', () => {
  it('has a catalog for every seed provider', () => {
    expect([...catalogs.keys()]).toEqual(expect.arrayContaining(PROVIDERS));
  });

  describe.each(PROVIDERS.filter((p) => SEEDS[p]!.length > 0))('%s', (provider) => {
    const seed = SEEDS[provider]!;

    it.each(seed.map((s) => [label(s), s] as const))(
      'seed code %s is in the catalog with the seed status and the DESIGN verdict',
      (_label, s) => {
        const found = entriesFor(provider, s);
        expect(found, `no catalog entry for ${label(s)}`).toHaveLength(1);
        const entry = found[0]!;
        expect({ category: entry.category, retry: entry.retry }).toEqual({ category: s.category, retry: s.retry });
      },
    );

    it('has no entry that the seed does not list, and every entry keeps the DESIGN verdict', () => {
      for (const e of entriesOf(provider)) {
        const s = seedRowFor(provider, e);
        expect(s, `catalog entry ${e.code} (${e.status ?? 'no status'}) is not in the seed`).toBeDefined();
        expect({ code: e.code, category: e.category, retry: e.retry }).toEqual({
          code: e.code,
          category: s!.category,
          retry: s!.retry,
        });
      }
    });
  });

  it('every Mercado Pago code is listed for the endpoints the seed lists it under', () => {
    for (const s of MERCADOPAGO) {
      const [entry] = entriesFor('mercadopago', s);
      expect(entry, label(s)).toBeDefined();
      expect([...(entry!.operations ?? [])].sort(), label(s)).toEqual([...s.operations!].sort());
    }
  });

  it('Kustom INVALID_OPERATION "Authorization token already consumed" is a message-level entry, not the default', () => {
    const [consumed] = entriesFor('kustom', KUSTOM.find((s) => s.message === 'Authorization token already consumed')!);
    expect(consumed?.messagePattern?.test('Authorization token already consumed')).toBe(true);
    expect(consumed?.messagePattern?.test('')).toBe(false);
  });

  it('every Setel code from the seed is in the catalog with its name', () => {
    for (const s of SETEL) {
      const [entry] = entriesFor('setel', s);
      expect(entry?.name, s.code).toBe(s.name);
    }
  });

  it('the Digital River seed lists no codes, so its catalog has no entries', () => {
    expect(catalogs.has('digitalriver')).toBe(true);
    expect(entriesOf('digitalriver')).toEqual([]);
  });

  it.each(PROVIDERS)('every %s entry has a summary and a non-empty remediation', (provider) => {
    for (const e of entriesOf(provider)) {
      expect(e.provider, e.code).toBe(provider);
      expect(e.summary.trim(), `${e.code} summary`).not.toBe('');
      expect(e.remediation.trim(), `${e.code} remediation`).not.toBe('');
    }
  });
});
