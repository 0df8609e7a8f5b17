import { describe, expect, it } from 'vitest';
import { createClassifier, type Classifier } from '../../src/classify/classifier.ts';
import { createDecoder } from '../../src/events/decode.ts';
import { bytes, callEvent, type CallSpec } from '../support/events.ts';

const classifier: Classifier = await createClassifier();
const decoder = createDecoder({ idHeaders: classifier.idHeaders });

function classify(spec: CallSpec) {
  const decoded = decoder.decode(bytes(callEvent(spec)));
  if (!decoded.ok) throw new Error(`fixture rejected: ${decoded.rejection.detail}`);
  return classifier.classify(decoded.event);
}

describe('Mercado Pago', () => {
  const mp = (status: number, code: string, message: string, extra: Partial<CallSpec> = {}) =>
    classify({ provider: 'mercadopago', status, body: { errors: [{ code, message, details: [] }] }, ...extra });

  it('reads the code from errors[0] and the field from the message', () => {
    expect(mp(400, 'required_properties', "required property 'email' is missing", { operation: 'create_order' })).toMatchObject({
      code: 'required_properties', field: 'email', category: 'validation', retry: 'fix_and_resubmit', known: true, matchedBy: 'entry',
    });
  });

  it('takes the correlation id from x-request-id whatever its case', () => {
    expect(mp(500, 'internal_error', 'Some error occurred', { responseHeaders: { 'X-Request-Id': 'req-42' } }).correlationId).toBe('req-42');
  });

  it('derives the operation from the endpoint table', () => {
    expect(mp(409, 'cannot_cancel_order', 'Only orders with status...', { method: 'POST', route: '/v1/orders/{id}/cancel' })).toMatchObject({
      operation: 'cancel_order', category: 'state_conflict', retry: 'do_not_retry',
    });
  });

  it('separates a lock (retry with the same key) from a used key (reconcile first)', () => {
    expect(mp(423, 'resource_locked', 'Idempotency Key Locked')).toMatchObject({ category: 'idempotency', retry: 'retry_same_key_later' });
    expect(mp(409, 'idempotency_key_already_used', 'X-Idempotency-Key already used')).toMatchObject({ category: 'idempotency', retry: 'reconcile_before_retry' });
  });

  it('still knows a catalog code that arrives with an undocumented status', () => {
    expect(mp(422, 'invalid_total_amount', 'total_amount is not equivalent')).toMatchObject({ known: true, category: 'validation', matchedBy: 'code_entry' });
  });

  it('falls back to the HTTP status for a code the catalog does not have', () => {
    expect(mp(404, 'brand_new_code', 'new')).toMatchObject({ code: 'brand_new_code', known: false, category: 'not_found', retry: 'do_not_retry', matchedBy: 'http_status' });
  });
});

describe('Kustom', () => {
  const kustom = (status: number, code: string, messages: string[] = [], extra: Partial<CallSpec> = {}) =>
    classify({ provider: 'kustom', status, body: { error_code: code, error_messages: messages, correlation_id: 'kc-1' }, ...extra });

  it('tells BAD_VALUE 400 (fix the field) from BAD_VALUE 409 (data changed: new checkout)', () => {
    expect(kustom(400, 'BAD_VALUE', ['BAD_VALUE : order_lines[3].tax_rate'])).toMatchObject({
      category: 'validation', retry: 'fix_and_resubmit', field: 'order_lines[X].tax_rate', known: true,
    });
    expect(kustom(409, 'BAD_VALUE', ['Not matching fields...'])).toMatchObject({ category: 'state_conflict', retry: 'new_checkout', known: true });
  });

  it('reads fields written as "BAD_VALUE: locale"', () => {
    expect(kustom(400, 'BAD_VALUE', ['BAD_VALUE: locale']).field).toBe('locale');
  });

  it('recognizes a consumed authorization token by its message', () => {
    expect(kustom(403, 'INVALID_OPERATION', ['Authorization token already consumed'])).toMatchObject({ category: 'state_conflict', retry: 'new_checkout' });
    expect(kustom(403, 'INVALID_OPERATION', [])).toMatchObject({ category: 'merchant_config', retry: 'contact_provider' });
  });

  it('classifies MERCHANT_INACTIVE and takes the correlation id from the body', () => {
    expect(kustom(403, 'MERCHANT_INACTIVE')).toMatchObject({ category: 'merchant_config', retry: 'contact_provider', correlationId: 'kc-1', known: true });
  });

  it('treats a 504 as a timeout to reconcile, and any unknown error as needing a new order', () => {
    expect(classify({ provider: 'kustom', status: 504, body: '<html>Gateway Timeout</html>' })).toMatchObject({ code: null, category: 'timeout', retry: 'reconcile_before_retry' });
    expect(kustom(400, 'SOMETHING_NEW')).toMatchObject({ known: false, category: 'validation', retry: 'new_checkout', matchedBy: 'status_rule' });
  });

  it('falls back to the Klarna-Correlation-Id header', () => {
    expect(classify({ provider: 'kustom', status: 500, responseHeaders: { 'klarna-correlation-id': 'hdr-1' } }).correlationId).toBe('hdr-1');
  });
});

describe('Setel', () => {
  it.each([
    [{ errorCode: 9300110 }],
    [{ error_code: '9300110' }],
    [{ code: 9300110 }],
    [{ error: { code: '9300110' } }],
    [{ error: { errorCode: 9300110 } }],
  ])('finds the code in the undocumented envelope %j, numeric or string', (body) => {
    expect(classify({ provider: 'setel', status: 400, body })).toMatchObject({ code: '9300110', known: true, category: 'validation', retry: 'fix_and_resubmit' });
  });

  it('classifies by code whatever status the provider sent', () => {
    expect(classify({ provider: 'setel', status: 409, body: { errorCode: 9300105 } })).toMatchObject({ category: 'state_conflict', retry: 'new_checkout', known: true });
    expect(classify({ provider: 'setel', status: 401, body: { errorCode: 9300014 } })).toMatchObject({ category: 'authentication', retry: 'do_not_retry' });
  });
});

describe('Digital River', () => {
  const dr = (status: number, type: string, operation = 'create_order') =>
    classify({ provider: 'digitalriver', status, operation, body: { type, errors: [{ code: 'some_code', parameter: 'sourceId', message: 'm' }] } });

  it('turns a 409 on create_order into a decline that needs a new checkout', () => {
    expect(dr(409, 'conflict')).toMatchObject({ category: 'declined', retry: 'new_checkout', known: false, field: 'sourceId' });
  });

  it('lets other 4xx on create_order be fixed and resubmitted with the same checkout', () => {
    expect(dr(400, 'bad_request')).toMatchObject({ category: 'validation', retry: 'fix_and_resubmit' });
    expect(dr(404, 'not_found')).toMatchObject({ category: 'not_found', retry: 'fix_and_resubmit' });
    expect(dr(429, 'too_many_requests')).toMatchObject({ category: 'rate_limit', retry: 'retry_with_backoff' });
  });

  it('uses the error type outside create_order', () => {
    expect(dr(409, 'conflict', 'update_checkout')).toMatchObject({ category: 'state_conflict', matchedBy: 'error_type' });
    expect(dr(408, 'request_timeout', 'update_checkout')).toMatchObject({ category: 'timeout', retry: 'retry_same_key_later' });
  });

  it('derives create_order from POST /orders', () => {
    expect(classify({ provider: 'digitalriver', status: 409, method: 'POST', route: '/orders', body: { type: 'conflict', errors: [] } })).toMatchObject({ operation: 'create_order', category: 'declined' });
  });
});

describe('StableGenius', () => {
  const sg = (status: number, type: string, code: string, param?: string) =>
    classify({ provider: 'stablegenius', status, body: { error: { type, code, message: 'msg', ...(param ? { param } : {}) } } });

  it('reads code and field from error.code and error.param', () => {
    expect(sg(400, 'invalid_request_error', 'amount_out_of_range', 'amount')).toMatchObject({ code: 'amount_out_of_range', field: 'amount', category: 'validation', known: true });
    expect(sg(422, 'invalid_request_error', 'merchant_not_active')).toMatchObject({ category: 'merchant_config', retry: 'contact_provider' });
  });

  it.each([
    ['invalid_request_error', 'validation'],
    ['authentication_error', 'authentication'],
    ['authorization_error', 'merchant_config'],
    ['not_found_error', 'not_found'],
    ['conflict_error', 'state_conflict'],
    ['rate_limit_error', 'rate_limit'],
    ['api_error', 'provider_error'],
  ])('falls back to the error type %s for unknown codes', (type, category) => {
    expect(sg(418, type, 'never_seen_before')).toMatchObject({ category, known: false, matchedBy: 'error_type' });
  });

  it('retries api_error with backoff', () => {
    expect(sg(500, 'api_error', 'unexpected')).toMatchObject({ retry: 'retry_with_backoff' });
  });
});

describe('providers without a catalog', () => {
  it.each([
    [400, 'validation', 'fix_and_resubmit'], [422, 'validation', 'fix_and_resubmit'], [401, 'authentication', 'reauthenticate'],
    [403, 'merchant_config', 'contact_provider'], [404, 'not_found', 'do_not_retry'], [410, 'not_found', 'do_not_retry'],
    [408, 'timeout', 'reconcile_before_retry'], [504, 'timeout', 'reconcile_before_retry'], [409, 'state_conflict', 'reconcile_before_retry'],
    [423, 'idempotency', 'retry_same_key_later'], [429, 'rate_limit', 'retry_with_backoff'], [500, 'provider_error', 'retry_with_backoff'],
    [503, 'provider_error', 'retry_with_backoff'],
  ])('classify HTTP %i as %s / %s', (status, category, retry) => {
    expect(classify({ provider: 'acmepay', status })).toMatchObject({ category, retry, known: false, matchedBy: 'http_status' });
  });

  it('still reads the code from common error envelopes', () => {
    expect(classify({ provider: 'acmepay', status: 402, body: { error: { code: 'card_declined', message: 'declined' } } })).toMatchObject({ code: 'card_declined', known: false });
  });
});

describe('calls without a response', () => {
  it('is a timeout to retry with the same key when the call had an idempotency key', () => {
    expect(classify({ provider: 'kustom', networkError: 'timeout', requestHeaders: { 'Idempotency-Key': 'idem-1' } })).toMatchObject({
      outcome: 'error', category: 'timeout', retry: 'retry_same_key_later', statusCode: null, idempotencyKey: 'idem-1', correlationId: 'idem-1',
    });
    expect(classify({ provider: 'setel', networkError: 'connection_reset', idempotencyKey: 'idem-2' })).toMatchObject({ retry: 'retry_same_key_later' });
  });

  it('needs reconciliation first when it had no idempotency key', () => {
    expect(classify({ provider: 'mercadopago', networkError: 'dns' })).toMatchObject({ category: 'timeout', retry: 'reconcile_before_retry', errorType: 'dns' });
  });
});

describe('successful calls', () => {
  it('carry no error fields', () => {
    expect(classify({ provider: 'kustom', status: 201, operation: 'create_order', correlationId: 'c' })).toMatchObject({
      outcome: 'success', code: null, category: null, retry: null, known: false, correlationId: 'c',
    });
  });

  it('name an operation the endpoint table does not know by method and route', () => {
    expect(classify({ provider: 'kustom', status: 200, method: 'GET', route: '/ping' }).operation).toBe('GET /ping');
  });
});

describe('explain', () => {
  it('finds entries case-insensitively and says nothing for unknown codes', () => {
    expect(classifier.explain('kustom', 'merchant_inactive').map((e) => e.code)).toEqual(['MERCHANT_INACTIVE']);
    expect(classifier.explain('kustom', 'BAD_VALUE').map((e) => e.status).sort()).toEqual([400, 409]);
    expect(classifier.explain('kustom', 'NOPE')).toEqual([]);
    expect(classifier.explain('nobody', 'X')).toEqual([]);
  });
});
