// Realistic provider-native traffic for the demo: every provider's own error bodies, and a script of
// incidents (a Kustom MERCHANT_INACTIVE spike, a Mercado Pago invalid_total_amount climb, a
// StableGenius rate-limit burst, a Setel code nobody has seen, retries after errors that say
// "do not retry") over otherwise quiet traffic. Deterministic for a seed.
//
// Every error is raised only on operations its provider's seed documents it for (the catalog's
// `operations`), so the alerts name operations a payments engineer knows can produce the code;
// test/demo/traffic.test.ts holds the demo to the catalogs.

export interface Incident {
  readonly name: string;
  readonly provider: string;
  /** Share of the run (0..1) during which the incident is active. */
  readonly from: number;
  readonly to: number;
  readonly description: string;
}

export const INCIDENTS: readonly Incident[] = [
  { name: 'merchant_inactive_spike', provider: 'kustom', from: 0.3, to: 0.6, description: 'Kustom MID shop-se-7 deactivated: MERCHANT_INACTIVE on its orders' },
  { name: 'invalid_total_amount_climb', provider: 'mercadopago', from: 0.35, to: 0.9, description: 'Mercado Pago invalid_total_amount climbing after a discount release' },
  { name: 'rate_limit_burst', provider: 'stablegenius', from: 0.5, to: 0.65, description: 'StableGenius rate_limit_exceeded burst from a batch job' },
  { name: 'new_setel_code', provider: 'setel', from: 0.6, to: 1, description: 'Setel starts answering with a code nobody has seen (9300777)' },
  { name: 'retry_after_non_retryable', provider: 'kustom', from: 0.3, to: 0.6, description: 'a client retries MERCHANT_INACTIVE with the same idempotency key' },
];

export type DemoEvent = Record<string, unknown>;

/** xorshift32: small, fast, the same sequence on every machine. */
export class Random {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state / 0x1_0000_0000;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** An error the demo raises: its status and body, and where the seed documents it. */
interface DemoError {
  /** The operations the error may be raised on; null when the seed ties it to none. */
  readonly operations: readonly string[] | null;
  build(r: Random): [number, unknown];
}

interface ProviderProfile {
  readonly weight: number;
  readonly calls: ReadonlyArray<{ operation: string; method: string; route: string }>;
  readonly latencyMs: number;
  /** Ordinary background errors. */
  readonly background: readonly DemoError[];
}

const mpError = (code: string, message: string) => ({ errors: [{ code, message, details: [] }] });
const kustomError = (code: string, messages: string[], id: string) => ({ error_code: code, error_messages: messages, correlation_id: id });

const PROFILES: Readonly<Record<string, ProviderProfile>> = {
  mercadopago: {
    weight: 0.3,
    latencyMs: 220,
    calls: [
      { operation: 'create_order', method: 'POST', route: '/v1/orders' },
      { operation: 'get_order', method: 'GET', route: '/v1/orders/{id}' },
      { operation: 'refund_order', method: 'POST', route: '/v1/orders/{id}/refund' },
    ],
    background: [
      { operations: ['create_order'], build: () => [400, mpError('required_properties', "required property 'payer.email' is missing")] },
      { operations: ['create_order'], build: () => [423, mpError('resource_locked', 'Idempotency Key Locked')] },
      { operations: ['create_order'], build: () => [500, mpError('internal_error', 'Some error occurred on our side')] },
      { operations: ['get_order'], build: () => [404, mpError('order_not_found', 'Order not found')] },
      { operations: ['refund_order'], build: () => [400, mpError('refund_amount_exceeds', 'Refund amount exceeds the available amount')] },
    ],
  },
  kustom: {
    weight: 0.25,
    latencyMs: 180,
    calls: [
      { operation: 'create_session', method: 'POST', route: '/payments/v1/sessions' },
      { operation: 'update_session', method: 'POST', route: '/payments/v1/sessions/{session_id}' },
      { operation: 'create_order', method: 'POST', route: '/payments/v1/authorizations/{authorizationToken}/order' },
    ],
    background: [
      { operations: ['create_session', 'update_session', 'create_order'], build: (r) => [400, kustomError('BAD_VALUE', [`BAD_VALUE : order_lines[${Math.floor(r.next() * 5)}].tax_rate`], corrId(r))] },
      // The seed: an expired session the merchant still tries to update.
      { operations: ['update_session'], build: (r) => [404, kustomError('NOT_FOUND', ['Invalid session id'], corrId(r))] },
      // An authorization Kustom did not approve surfaces when the order is placed.
      { operations: ['create_order'], build: (r) => [403, kustomError('REJECTED', ['Rejected'], corrId(r))] },
    ],
  },
  setel: {
    weight: 0.15,
    latencyMs: 140,
    calls: [
      { operation: 'create_session', method: 'POST', route: '/api/checkout/sessions' },
      { operation: 'capture_session', method: 'POST', route: '/api/checkout/sessions/{id}/capture' },
    ],
    background: [
      { operations: null, build: () => [400, { statusCode: 400, errorCode: 9300110, message: 'The payment amount is different from the session amount' }] },
      { operations: null, build: () => [409, { error: { code: '9300105', message: 'Session has expired' } }] },
    ],
  },
  digitalriver: {
    weight: 0.15,
    latencyMs: 300,
    calls: [
      { operation: 'create_checkout', method: 'POST', route: '/checkouts' },
      { operation: 'create_order', method: 'POST', route: '/orders' },
    ],
    // The seed documents rejections of POST /orders only.
    background: [
      { operations: ['create_order'], build: () => [409, { type: 'conflict', errors: [{ code: 'failed-request', parameter: 'sourceId', message: 'The charge was declined.' }] }] },
      { operations: ['create_order'], build: () => [400, { type: 'bad_request', errors: [{ code: 'invalid_parameter', parameter: 'email', message: 'Email is invalid.' }] }] },
    ],
  },
  stablegenius: {
    weight: 0.15,
    latencyMs: 90,
    calls: [
      { operation: 'create_payment_intent', method: 'POST', route: '/v1/payment_intents' },
      { operation: 'cancel_payment_intent', method: 'POST', route: '/v1/payment_intents/{id}/cancel' },
    ],
    background: [
      { operations: ['create_payment_intent'], build: () => [400, { error: { type: 'invalid_request_error', code: 'amount_out_of_range', message: 'Amount is below 10,000.', param: 'amount' } }] },
      { operations: ['cancel_payment_intent'], build: () => [409, { error: { type: 'conflict_error', code: 'intent_not_cancellable', message: 'Payment intent is not in awaiting_payment status.' } }] },
    ],
  },
};

const PROVIDER_NAMES = Object.keys(PROFILES);
const CUMULATIVE = (() => {
  let sum = 0;
  return PROVIDER_NAMES.map((p) => (sum += PROFILES[p]!.weight));
})();
const BACKGROUND_ERROR_RATE = 0.03;
const MERCHANTS = ['shop-eu-1', 'shop-eu-2', 'shop-br-3', 'shop-my-4', 'shop-us-5', 'shop-se-7'];

function corrId(r: Random): string {
  return `${Math.floor(r.next() * 0xffffffff).toString(16).padStart(8, '0')}-${Math.floor(r.next() * 0xffff).toString(16).padStart(4, '0')}`;
}

function active(name: string, progress: number): boolean {
  const incident = INCIDENTS.find((i) => i.name === name)!;
  return progress >= incident.from && progress < incident.to;
}

export interface TrafficGenerator {
  /** The events to send at `progress` (0..1 of the run) with event time `timestampMs`. */
  next(progress: number, timestampMs: number): DemoEvent[];
}

export function createTrafficGenerator(seed = 7): TrafficGenerator {
  const r = new Random(seed);
  let sequence = 0;

  function pickProvider(): string {
    const x = r.next() * CUMULATIVE[CUMULATIVE.length - 1]!;
    return PROVIDER_NAMES[CUMULATIVE.findIndex((c) => x < c)]!;
  }

  /** `operations` narrows the calls to those an error is documented for; null allows every call. */
  function baseEvent(provider: string, timestampMs: number, status: number, body: unknown, operations: readonly string[] | null): DemoEvent {
    const profile = PROFILES[provider]!;
    const calls = operations === null ? profile.calls : profile.calls.filter((c) => operations.includes(c.operation));
    if (calls.length === 0) throw new Error(`demo: ${provider} has no call for operations ${operations!.join(', ')}`);
    const call = r.pick(calls);
    sequence++;
    const idempotencyKey = `idem-${seed}-${sequence}`;
    return {
      timestamp: timestampMs,
      provider,
      operation: call.operation,
      http: { method: call.method, route: call.route, status_code: status, duration_ms: Math.round(profile.latencyMs * (0.5 + r.next() * 1.5)) },
      request: { headers: { 'X-Idempotency-Key': idempotencyKey, Authorization: 'Bearer sk_live_demo0000000000000000' } },
      response: { headers: { 'X-Request-Id': `req-${sequence}` }, ...(body === undefined ? {} : { body }) },
      attempt: 1,
      merchant_id: r.pick(MERCHANTS),
      environment: 'production',
      service: 'checkout-api',
    };
  }

  return {
    next(progress, timestampMs) {
      const provider = pickProvider();
      const out: DemoEvent[] = [];
      let status = 200;
      let body: unknown;
      let operations: readonly string[] | null = null;
      let burst = 0;
      if (provider === 'kustom' && active('merchant_inactive_spike', progress) && r.chance(0.35)) {
        status = 403;
        body = kustomError('MERCHANT_INACTIVE', [], corrId(r));
      } else if (provider === 'mercadopago' && active('invalid_total_amount_climb', progress)) {
        const incident = INCIDENTS.find((i) => i.name === 'invalid_total_amount_climb')!;
        const climb = (progress - incident.from) / (incident.to - incident.from);
        if (r.chance(0.02 + 0.3 * climb)) {
          status = 400;
          body = mpError('invalid_total_amount', 'total_amount is not equivalent to sum of transactions amounts');
          // The seed lists invalid_total_amount for creating an order (POST /v1/orders) only.
          operations = ['create_order'];
        }
      } else if (provider === 'stablegenius' && active('rate_limit_burst', progress) && r.chance(0.5)) {
        status = 429;
        body = { error: { type: 'rate_limit_error', code: 'rate_limit_exceeded', message: 'Too many requests in the current window.' } };
        // The batch job behind the burst hammers the same endpoint.
        burst = 2;
      } else if (provider === 'setel' && active('new_setel_code', progress) && r.chance(0.05)) {
        status = 502;
        body = { statusCode: 502, errorCode: 9300777, message: 'Upstream acquirer unavailable' };
      }
      if (status === 200 && r.chance(BACKGROUND_ERROR_RATE)) {
        const error = r.pick(PROFILES[provider]!.background);
        [status, body] = error.build(r);
        operations = error.operations;
      }
      const event = baseEvent(provider, timestampMs, status, body, operations);
      if (status === 403 && provider === 'kustom') event.merchant_id = 'shop-se-7';
      out.push(event);
      for (let i = 1; i <= burst; i++) out.push({ ...baseEvent(provider, timestampMs + i, status, body, operations), operation: event.operation, http: event.http });
      // The misbehaving client: retries a "contact provider" error with the same key.
      if (status === 403 && active('retry_after_non_retryable', progress) && r.chance(0.5)) {
        out.push({ ...event, timestamp: timestampMs + 1, attempt: 2 });
      }
      return out;
    },
  };
}
