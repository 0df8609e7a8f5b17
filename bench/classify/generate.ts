// Deterministic generator of provider-native payment-call events (docs/architecture.md#input-the-payment-call-event and #where-provider-knowledge-lives) for the
// classify benchmark: `node bench/classify/generate.ts [--lines N] [--seed S] [--out FILE] [--force]`.
//
// The error codes, HTTP statuses, operations and messages come from the provider catalogs in
// src/providers/*/catalog.yaml (read-only), so the benchmark exercises the real lookup paths. The mix:
// ~70% successes, ~29% HTTP errors in each provider's own body shape (objects and JSON-in-a-string
// bodies, HTML bodies for gateway timeouts, numeric and string Setel codes in five envelopes), ~2% of
// the errors with codes no catalog knows, ~0.6% network failures without any response, mixed-case
// header names, x-request-id / Klarna-Correlation-Id / Request-Id headers and idempotency keys.
//
// Next to the NDJSON file it writes a manifest with what every line should come out as (outcome, and
// the code per provider), which run.ts uses to check both paysignal's output and mtail's counts.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';

/** Bump when the output for a given (lines, seed) changes, so cached datasets are regenerated. */
export const GENERATOR_VERSION = 2;
export const DEFAULT_LINES = 1_000_000;
export const DEFAULT_SEED = 20250303;

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, '..', '..');
export const OUT_DIR = join(ROOT, 'bench', 'out');
const PROVIDERS_DIR = join(ROOT, 'src', 'providers');

export const PROVIDERS = ['mercadopago', 'kustom', 'setel', 'digitalriver', 'stablegenius'] as const;
export type Provider = (typeof PROVIDERS)[number];

/** What the lines should classify as; `codes` is keyed `provider<TAB>code` with `-` for no code. */
export interface Manifest {
  generatorVersion: number;
  catalogHash: string;
  seed: number;
  lines: number;
  bytes: number;
  outcomes: { success: number; error: number; invalid: number };
  byProvider: Record<string, number>;
  codes: Record<string, number>;
  networkErrors: number;
  unknownCodes: number;
  stringBodies: number;
  htmlBodies: number;
  numericCodes: number;
}

export interface Dataset {
  file: string;
  manifestFile: string;
  manifest: Manifest;
}

export const NO_CODE = '-';
export const codeKey = (provider: string, code: string | null): string => `${provider}\t${code ?? NO_CODE}`;

// ---------------------------------------------------------------------------------------------
// Seeded PRNG (sfc32 seeded through splitmix32): fast, good enough, identical on every machine.

class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** [0, 1) */
  next(): number {
    return this.u32() / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let r = this.next() * total;
    for (const [item, w] of items) {
      r -= w;
      if (r < 0) return item;
    }
    return items[items.length - 1]![0];
  }

  hex(n: number): string {
    let s = '';
    while (s.length < n) s += this.u32().toString(16).padStart(8, '0');
    return s.slice(0, n);
  }

  alnum(n: number): string {
    const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    let s = '';
    for (let i = 0; i < n; i++) s += chars[this.int(chars.length)];
    return s;
  }

  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[this.int(4)]}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Catalog data (read-only view of src/providers/*/catalog.yaml).

interface CatalogEntryData {
  code: string;
  status: number | null;
  operations: string[] | null;
  message: string | null;
  category: string;
}

interface CatalogData {
  entries: CatalogEntryData[];
  /** operation -> [method, route] pairs */
  routes: Map<string, [string, string][]>;
}

function loadCatalog(provider: Provider): CatalogData {
  const text = readFileSync(join(PROVIDERS_DIR, provider, 'catalog.yaml'), 'utf8');
  const doc = parseYaml(text) as {
    entries?: { code: string | number; status?: number; operations?: string[]; message?: string; category: string }[];
    operations?: { method: string; route: string; operation: string }[];
  };
  const routes = new Map<string, [string, string][]>();
  for (const op of doc.operations ?? []) {
    const list = routes.get(op.operation) ?? [];
    list.push([op.method, op.route]);
    routes.set(op.operation, list);
  }
  const entries = (doc.entries ?? []).map((e) => ({
    code: String(e.code),
    status: e.status ?? null,
    operations: e.operations ?? null,
    message: e.message ?? null,
    category: e.category,
  }));
  return { entries, routes };
}

export function catalogHash(): string {
  const hash = createHash('sha256');
  for (const provider of PROVIDERS) hash.update(readFileSync(join(PROVIDERS_DIR, provider, 'catalog.yaml')));
  return hash.digest('hex').slice(0, 16);
}

// ---------------------------------------------------------------------------------------------
// Event building blocks.

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

interface Call {
  operation: string;
  method: string;
  route: string;
  /** Put `operation` in the event (otherwise it is derived from method + route). */
  nameOperation: boolean;
}

interface ErrorResponse {
  status: number;
  body: Json | string | undefined;
  code: string | null;
  unknown: boolean;
  numericCode?: boolean;
  headers?: Record<string, string>;
}

/** One of the spellings real clients log a header name with. */
function headerName(rng: Rng, canonical: string): string {
  const r = rng.next();
  if (r < 0.5) return canonical;
  if (r < 0.85) return canonical.toLowerCase();
  if (r < 0.95) return canonical.toUpperCase();
  return canonical.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

function putHeader(rng: Rng, headers: Record<string, string>, canonical: string, value: string): void {
  const lower = canonical.toLowerCase();
  for (const existing of Object.keys(headers)) if (existing.toLowerCase() === lower) delete headers[existing];
  headers[headerName(rng, canonical)] = value;
}

const SERVICES = ['checkout-api', 'orders-worker', 'subscriptions', 'refunds-service', 'mobile-bff'];
const USER_AGENTS = ['okhttp/4.12.0', 'axios/1.7.7', 'Go-http-client/2.0', 'python-requests/2.32.3', 'node-fetch/3.3.2'];
const FIELDS_MP = ['email', 'payer', 'transactions', 'total_amount', 'external_reference', 'items', 'type', 'processing_mode'];
const FIELDS_KUSTOM = ['order_lines[0].tax_rate', 'order_lines[3].tax_rate', 'order_lines[1].total_amount', 'locale', 'purchase_currency', 'order_amount', 'billing_address.postal_code', 'merchant_urls.confirmation'];
const FIELDS_DR = ['sourceId', 'checkoutId', 'email', 'items[0].price', 'shipTo.address.postalCode', 'currency', 'locale', 'upstreamId'];
const FIELDS_SG = { amount_out_of_range: 'amount', invalid_currency: 'currency', invalid_merchant: 'merchant_id', ttl_out_of_range: 'ttl', invalid_webhook_url: 'url' } as Record<string, string>;

/** Codes no catalog has: the classifier falls back to error type or HTTP status for these. */
const UNKNOWN_CODES: Record<Provider, readonly (readonly [string, number])[]> = {
  mercadopago: [['unsupported_payment_method', 400], ['order_expired', 400], ['service_unavailable', 503]],
  kustom: [['TEMPORARILY_UNAVAILABLE', 503], ['READ_ONLY_ORDER', 403], ['NOT_ALLOWED', 403]],
  setel: [['9300999', 500], ['9300116', 409], ['9300500', 502]],
  digitalriver: [['checkout_locked', 409], ['source_expired', 400], ['tax_service_unavailable', 503]],
  stablegenius: [['network_congested', 503], ['wallet_frozen', 403], ['quote_expired', 409]],
};

function pickCall(rng: Rng, cat: CatalogData, operations: readonly string[] | null, fallbackRoutes: readonly (readonly [string, string, string])[]): Call {
  const ops = operations ?? [...cat.routes.keys()];
  if (ops.length === 0) {
    const [operation, method, route] = rng.pick(fallbackRoutes);
    return { operation, method, route, nameOperation: rng.chance(0.8) };
  }
  const operation = rng.pick(ops);
  const routes = cat.routes.get(operation);
  if (routes === undefined) {
    const [, method, route] = rng.pick(fallbackRoutes);
    return { operation, method, route, nameOperation: true };
  }
  const [method, route] = rng.pick(routes);
  return { operation, method, route, nameOperation: rng.chance(0.4) };
}

// Setel has no route table in its catalog; these are plausible Checkout API routes.
const SETEL_ROUTES: readonly (readonly [string, string, string])[] = [
  ['create_session', 'POST', '/api/checkout/sessions'],
  ['get_session', 'GET', '/api/checkout/sessions/{id}'],
  ['capture_session', 'POST', '/api/checkout/sessions/{id}/capture'],
  ['cancel_session', 'POST', '/api/checkout/sessions/{id}/cancel'],
  ['create_payment_intent', 'POST', '/api/checkout/payment-intents'],
  ['get_payment_intent', 'GET', '/api/checkout/payment-intents/{id}'],
];

// ---------------------------------------------------------------------------------------------
// Per provider: successes and errors in the provider's own shapes.

interface ProviderGen {
  call(rng: Rng): Call;
  successBody(rng: Rng, call: Call): Json | undefined;
  error(rng: Rng, call: Call): { call: Call; response: ErrorResponse };
  requestHeaders(rng: Rng, call: Call, headers: Record<string, string>): void;
  responseHeaders(rng: Rng, headers: Record<string, string>): void;
}

function maybeString(rng: Rng, body: Json, p: number): Json | string {
  // Some loggers store the raw response text instead of the parsed body.
  return rng.chance(p) ? JSON.stringify(body) : body;
}

function mercadopago(cat: CatalogData): ProviderGen {
  const entries = cat.entries;
  return {
    call: (rng) => pickCall(rng, cat, null, []),
    successBody: (rng, call) =>
      rng.chance(0.4)
        ? { id: `ORD01${rng.alnum(21).toUpperCase()}`, status: call.operation === 'cancel_order' ? 'canceled' : call.operation === 'refund_order' ? 'refunded' : 'processed', status_detail: 'accredited' }
        : undefined,
    error(rng, _call) {
      if (rng.chance(0.02)) {
        const [code, status] = rng.pick(UNKNOWN_CODES.mercadopago);
        const call = pickCall(rng, cat, null, []);
        return { call, response: { status, code, unknown: true, body: maybeString(rng, { errors: [{ code, message: `Unexpected error: ${code.replaceAll('_', ' ')}`, details: [] }] }, 0.15) } };
      }
      const entry = rng.pick(entries);
      const call = pickCall(rng, cat, entry.operations, []);
      let message = entry.message ?? entry.code;
      const details: Json[] = [];
      if (entry.code === 'required_properties') message = `required property '${rng.pick(FIELDS_MP)}' is missing`;
      if (entry.code === 'status_detail') details.push(rng.pick(['cc_rejected_insufficient_amount', 'cc_rejected_bad_filled_security_code', 'cc_rejected_high_risk', 'cc_rejected_call_for_authorize']));
      if (entry.code === 'invalid_email_for_sandbox') message = "Email must contain '@testuser.com'";
      const body = { errors: [{ code: entry.code, message, details }] };
      return { call, response: { status: entry.status ?? 400, code: entry.code, unknown: false, body: maybeString(rng, body, 0.15) } };
    },
    requestHeaders(rng, call, h) {
      putHeader(rng, h, 'Content-Type', 'application/json');
      if (call.method === 'POST') putHeader(rng, h, 'X-Idempotency-Key', rng.uuid());
      if (rng.chance(0.25)) putHeader(rng, h, 'Authorization', `Bearer APP_USR-${rng.int(1e9)}${rng.int(1e7)}-${rng.hex(6)}-${rng.hex(32)}-${rng.int(1e9)}`);
    },
    responseHeaders(rng, h) {
      putHeader(rng, h, 'Content-Type', 'application/json;charset=UTF-8');
      putHeader(rng, h, 'X-Request-Id', rng.uuid());
    },
  };
}

function kustom(cat: CatalogData): ProviderGen {
  const entries = cat.entries;
  return {
    call: (rng) => pickCall(rng, cat, null, []),
    successBody: (rng, call): Json | undefined =>
      rng.chance(0.35)
        ? call.operation === 'create_session'
          ? { session_id: rng.uuid(), client_token: `eyJhbGciOiJSUzI1NiJ9.${rng.alnum(40)}.${rng.alnum(30)}`, payment_method_categories: [{ identifier: 'pay_later' }] }
          : { order_id: rng.uuid(), status: 'checkout_incomplete' }
        : undefined,
    error(rng, _call) {
      const correlationId = rng.uuid();
      if (rng.chance(0.04)) {
        // Kustom answers 504 after its 30 s limit, from the gateway: an HTML body, no code.
        const call = pickCall(rng, cat, null, []);
        return { call, response: { status: 504, code: null, unknown: false, body: '<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway Time-out</h1></center></body></html>' } };
      }
      if (rng.chance(0.02)) {
        const [code, status] = rng.pick(UNKNOWN_CODES.kustom);
        const call = pickCall(rng, cat, null, []);
        return { call, response: { status, code, unknown: true, body: maybeString(rng, { error_code: code, error_messages: [`${code}: request could not be processed`], correlation_id: correlationId }, 0.1) } };
      }
      const entry = rng.pick(entries);
      const call = pickCall(rng, cat, entry.operations, []);
      let message = entry.message ?? entry.code;
      if (entry.code === 'BAD_VALUE' && entry.status === 400) message = rng.chance(0.5) ? `BAD_VALUE : ${rng.pick(FIELDS_KUSTOM)}` : `BAD_VALUE: ${rng.pick(FIELDS_KUSTOM)}`;
      if (entry.code === 'BAD_VALUE' && entry.status === 409) message = `Not matching fields: [${rng.pick(['order_amount', 'order_lines', 'purchase_currency'])}]`;
      if (entry.code === 'MERCHANT_INACTIVE') message = 'Merchant is not active';
      if (entry.code === 'UNAUTHORIZED') message = 'Unable to authenticate';
      if (entry.code === 'INVALID_OPERATION' && entry.operations === null && !entry.message) message = 'Operation not allowed for this order';
      const body = { error_code: entry.code, error_messages: [message], correlation_id: correlationId };
      return {
        call,
        response: { status: entry.status ?? 400, code: entry.code, unknown: false, body: maybeString(rng, body, 0.1), headers: { 'Klarna-Correlation-Id': correlationId } },
      };
    },
    requestHeaders(rng, call, h) {
      putHeader(rng, h, 'Content-Type', 'application/json');
      putHeader(rng, h, 'User-Agent', rng.pick(USER_AGENTS));
      if (call.method === 'POST' && rng.chance(0.5)) putHeader(rng, h, 'Klarna-Idempotency-Key', rng.uuid());
    },
    responseHeaders(rng, h) {
      putHeader(rng, h, 'Content-Type', 'application/json');
      putHeader(rng, h, 'Klarna-Correlation-Id', rng.uuid());
    },
  };
}

const SETEL_STATUS: Record<string, number[]> = {
  provider_error: [500, 502, 503],
  authentication: [401],
  validation: [400, 422],
  merchant_config: [403],
  not_found: [404],
  idempotency: [409],
  state_conflict: [409, 422],
};

function setel(cat: CatalogData): ProviderGen {
  const entries = cat.entries;
  return {
    call: (rng) => pickCall(rng, cat, null, SETEL_ROUTES),
    successBody: (rng) => (rng.chance(0.4) ? { id: `ps_${rng.hex(24)}`, status: rng.pick(['pending', 'succeeded', 'captured']), amount: rng.int(50000) + 100 } : undefined),
    error(rng, call) {
      let code: string;
      let status: number;
      let message: string;
      let unknown = false;
      if (rng.chance(0.02)) {
        [code, status] = rng.pick(UNKNOWN_CODES.setel);
        message = 'Unexpected error';
        unknown = true;
      } else {
        const entry = rng.pick(entries);
        code = entry.code;
        status = rng.pick(SETEL_STATUS[entry.category] ?? [400]);
        message = entry.message ?? 'Error';
      }
      const numeric = rng.chance(0.6);
      const value: Json = numeric ? Number(code) : code;
      // The envelope is undocumented: several spellings are seen in the wild.
      const body = rng.weighted<Json>([
        [{ statusCode: status, errorCode: value, message }, 4],
        [{ error_code: value, message, timestamp: new Date(1741000000000 + rng.int(1e9)).toISOString() }, 2],
        [{ code: value, message }, 2],
        [{ error: { code: value, message } }, 1],
        [{ error: { errorCode: value, errorMessage: message } }, 1],
      ]);
      return { call, response: { status, code, unknown, numericCode: numeric, body: maybeString(rng, body, 0.1) } };
    },
    requestHeaders(rng, call, h) {
      putHeader(rng, h, 'Content-Type', 'application/json');
      putHeader(rng, h, 'Access-Token', `${rng.alnum(12)}`);
      if (call.method === 'POST' && rng.chance(0.7)) putHeader(rng, h, 'Idempotency-Key', rng.uuid());
    },
    responseHeaders(rng, h) {
      putHeader(rng, h, 'Content-Type', 'application/json; charset=utf-8');
      if (rng.chance(0.5)) putHeader(rng, h, 'X-Request-Id', rng.uuid());
    },
  };
}

// Digital River's seed gives rules, not codes: these are the type/code pairs its API documents.
const DR_ERRORS: readonly (readonly [string, string, number, number])[] = [
  // [type, code, status, weight]
  ['bad_request', 'invalid_parameter', 400, 6],
  ['bad_request', 'missing_parameter', 400, 3],
  ['conflict', 'failed-request', 409, 5],
  ['unauthorized', 'unauthorized', 401, 1],
  ['forbidden', 'forbidden', 403, 1],
  ['not_found', 'not_found', 404, 2],
  ['too_many_requests', 'too_many_requests', 429, 1],
  ['request_timeout', 'request_timeout', 408, 1],
  ['internal_server_error', 'internal_server_error', 500, 1],
];

function digitalriver(cat: CatalogData): ProviderGen {
  return {
    call: (rng) => pickCall(rng, cat, null, []),
    successBody: (rng) => (rng.chance(0.35) ? { id: `${rng.int(1e9)}${rng.int(1e6)}`, state: rng.pick(['accepted', 'in_review', 'fulfilled']), liveMode: true } : undefined),
    error(rng, _call) {
      let type: string;
      let code: string;
      let status: number;
      let unknown = false;
      if (rng.chance(0.02)) {
        [code, status] = rng.pick(UNKNOWN_CODES.digitalriver);
        type = status === 409 ? 'conflict' : status === 400 ? 'bad_request' : 'internal_server_error';
        unknown = true;
      } else {
        const picked = rng.weighted(DR_ERRORS.map((e) => [e, e[3]] as const));
        [type, code, status] = picked;
      }
      // Most failures worth logging are order submissions (the seed's subject).
      const call = rng.chance(0.6) ? pickCall(rng, cat, ['create_order'], []) : pickCall(rng, cat, null, []);
      const err: Record<string, Json> = { code, message: `${type.replaceAll('_', ' ')}: ${code}` };
      if (type === 'bad_request') err.parameter = rng.pick(FIELDS_DR);
      if (code === 'failed-request') err.message = 'The charge authorization was declined.';
      const body = { type, errors: [err] };
      const headers: Record<string, string> = status === 429 ? { 'Retry-After': String(1 + rng.int(30)) } : {};
      return { call, response: { status, code, unknown, body: maybeString(rng, body, 0.1), headers } };
    },
    requestHeaders(rng, call, h) {
      putHeader(rng, h, 'Content-Type', 'application/json');
      if (rng.chance(0.3)) putHeader(rng, h, 'Authorization', `Bearer sk_live_${rng.alnum(32)}`);
      if (call.method === 'POST' && rng.chance(0.6)) putHeader(rng, h, 'Idempotency-Key', rng.uuid());
    },
    responseHeaders(rng, h) {
      putHeader(rng, h, 'Content-Type', 'application/json');
      if (rng.chance(0.6)) putHeader(rng, h, 'X-Request-Id', rng.uuid());
    },
  };
}

const SG_TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'authorization_error',
  404: 'not_found_error',
  409: 'conflict_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
  500: 'api_error',
  503: 'api_error',
};

function stablegenius(cat: CatalogData): ProviderGen {
  const entries = cat.entries;
  return {
    call: (rng) => pickCall(rng, cat, null, []),
    successBody: (rng) =>
      rng.chance(0.4) ? { id: `pi_${rng.alnum(24)}`, object: 'payment_intent', status: rng.pick(['awaiting_payment', 'succeeded', 'cancelled']), amount: 10000 + rng.int(1e6), currency: 'usd' } : undefined,
    error(rng, _call) {
      let code: string;
      let status: number;
      let message: string;
      let unknown = false;
      let call: Call;
      if (rng.chance(0.02)) {
        [code, status] = rng.pick(UNKNOWN_CODES.stablegenius);
        message = 'Something went wrong.';
        unknown = true;
        call = pickCall(rng, cat, null, []);
      } else {
        const entry = rng.pick(entries);
        code = entry.code;
        status = entry.status ?? 400;
        message = entry.message ?? code;
        call = pickCall(rng, cat, entry.operations, []);
      }
      const error: Record<string, Json> = { type: SG_TYPE_BY_STATUS[status] ?? 'api_error', code, message };
      const param = FIELDS_SG[code];
      if (param !== undefined) error.param = param;
      const headers: Record<string, string> = { 'Request-Id': `req_${rng.alnum(14)}` };
      if (status === 429) {
        headers['Retry-After'] = String(1 + rng.int(60));
        headers['X-RateLimit-Reset'] = String(1741000000 + rng.int(1e6));
      }
      return { call, response: { status, code, unknown, body: maybeString(rng, { error }, 0.1), headers } };
    },
    requestHeaders(rng, call, h) {
      putHeader(rng, h, 'Content-Type', 'application/json');
      if (rng.chance(0.2)) putHeader(rng, h, 'Authorization', `Bearer sk_${rng.chance(0.9) ? 'live' : 'test'}_${rng.alnum(24)}`);
      if (call.method === 'POST') putHeader(rng, h, 'Idempotency-Key', rng.uuid());
    },
    responseHeaders(rng, h) {
      putHeader(rng, h, 'Content-Type', 'application/json');
      putHeader(rng, h, 'Request-Id', `req_${rng.alnum(14)}`);
      putHeader(rng, h, 'X-RateLimit-Remaining', String(rng.int(100)));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The generator.

const PROVIDER_MIX: readonly (readonly [Provider, number])[] = [
  ['mercadopago', 30],
  ['kustom', 25],
  ['setel', 15],
  ['digitalriver', 15],
  ['stablegenius', 15],
];
/** Share of successful calls; `--success-share` (the Kafka benchmark's error-heavy traffic uses 0.5). */
export const DEFAULT_SUCCESS_SHARE = 0.7;
const NETWORK_ERROR_SHARE = 0.006;
const SUCCESS_STATUS: readonly (readonly [number, number])[] = [
  [200, 80],
  [201, 15],
  [204, 3],
  [202, 2],
];

export interface GenerateOptions {
  lines: number;
  seed: number;
  out: string;
  successShare?: number;
}

export function datasetFile(lines: number, seed: number, successShare = DEFAULT_SUCCESS_SHARE): string {
  const share = successShare === DEFAULT_SUCCESS_SHARE ? '' : `-ok${Math.round(successShare * 100)}`;
  return join(OUT_DIR, `classify-${lines}-s${seed}${share}.ndjson`);
}

function manifestFileFor(file: string): string {
  return file.replace(/\.ndjson$/, '') + '.manifest.json';
}

export function generate(options: GenerateOptions): Dataset {
  const { lines, seed, out } = options;
  const successShare = options.successShare ?? DEFAULT_SUCCESS_SHARE;
  const rng = new Rng(seed);
  const catalogs = new Map<Provider, CatalogData>();
  for (const p of PROVIDERS) catalogs.set(p, loadCatalog(p));
  const gens: Record<Provider, ProviderGen> = {
    mercadopago: mercadopago(catalogs.get('mercadopago')!),
    kustom: kustom(catalogs.get('kustom')!),
    setel: setel(catalogs.get('setel')!),
    digitalriver: digitalriver(catalogs.get('digitalriver')!),
    stablegenius: stablegenius(catalogs.get('stablegenius')!),
  };
  const merchants = Array.from({ length: 400 }, (_, i) => `mch_${String(i + 1).padStart(5, '0')}`);

  const manifest: Manifest = {
    generatorVersion: GENERATOR_VERSION,
    catalogHash: catalogHash(),
    seed,
    lines,
    bytes: 0,
    outcomes: { success: 0, error: 0, invalid: 0 },
    byProvider: {},
    codes: {},
    networkErrors: 0,
    unknownCodes: 0,
    stringBodies: 0,
    htmlBodies: 0,
    numericCodes: 0,
  };
  const count = (provider: string, code: string | null): void => {
    const key = codeKey(provider, code);
    manifest.codes[key] = (manifest.codes[key] ?? 0) + 1;
    manifest.byProvider[provider] = (manifest.byProvider[provider] ?? 0) + 1;
  };

  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  let buffer = '';
  let bytes = 0;
  let t = Date.UTC(2025, 2, 3, 8, 0, 0);

  for (let i = 0; i < lines; i++) {
    t += 1 + rng.int(9);
    const provider = rng.weighted(PROVIDER_MIX);
    const gen = gens[provider];
    let call = gen.call(rng);
    const r = rng.next();
    const event: Record<string, Json> = {};
    // Timestamps: mostly RFC 3339 in UTC, some with an explicit offset, some epoch milliseconds.
    const ts = rng.next();
    event.timestamp = ts < 0.1 ? t : ts < 0.15 ? new Date(t).toISOString().replace('Z', '+00:00') : new Date(t).toISOString();
    event.service = rng.pick(SERVICES);
    event.provider = provider;
    const requestHeaders: Record<string, string> = {};
    const responseHeaders: Record<string, string> = {};
    let status: number | null;
    let body: Json | string | undefined;
    let networkError: string | null = null;
    let errorHeaders: Record<string, string> | undefined;
    let attempt = 1;

    if (r < successShare) {
      status = call.method === 'POST' && call.operation.startsWith('create') ? rng.weighted(SUCCESS_STATUS) : 200;
      body = gen.successBody(rng, call);
      manifest.outcomes.success++;
      count(provider, null);
    } else if (r < successShare + NETWORK_ERROR_SHARE) {
      status = null;
      networkError = rng.weighted([
        ['timeout', 8],
        ['connection_reset', 1],
        ['dns', 1],
      ]);
      attempt = 1 + rng.int(3);
      manifest.outcomes.error++;
      manifest.networkErrors++;
      count(provider, null);
    } else {
      const err = gen.error(rng, call);
      call = err.call;
      status = err.response.status;
      body = err.response.body;
      errorHeaders = err.response.headers;
      attempt = rng.chance(0.8) ? 1 : 2 + rng.int(3);
      manifest.outcomes.error++;
      if (err.response.unknown) manifest.unknownCodes++;
      if (err.response.numericCode) manifest.numericCodes++;
      if (typeof body === 'string') {
        if (body.startsWith('<')) manifest.htmlBodies++;
        else manifest.stringBodies++;
      }
      count(provider, err.response.code);
    }

    if (call.nameOperation) event.operation = call.operation;
    const http: Record<string, Json> = { method: call.method, route: call.route };
    if (status !== null) http.status_code = status;
    http.duration_ms = status === null ? 30000 + rng.int(1000) : Math.round((20 + rng.next() * rng.next() * 1500) * 10) / 10;
    event.http = http;
    gen.requestHeaders(rng, call, requestHeaders);
    event.request = { headers: requestHeaders };
    if (status !== null) {
      gen.responseHeaders(rng, responseHeaders);
      // Headers that belong to the error (its correlation id, Retry-After) replace the defaults.
      if (errorHeaders !== undefined) for (const [name, value] of Object.entries(errorHeaders)) putHeader(rng, responseHeaders, name, value);
      const response: Record<string, Json> = { headers: responseHeaders };
      if (body !== undefined) response.body = body;
      event.response = response;
    } else {
      event.network_error = networkError;
    }
    if (rng.chance(0.3)) event.correlation_id = rng.uuid();
    event.attempt = attempt;
    event.merchant_id = rng.pick(merchants);
    event.environment = rng.chance(0.96) ? 'production' : 'sandbox';
    if (rng.chance(0.25)) event.traceparent = `00-${rng.hex(32)}-${rng.hex(16)}-01`;

    const line = JSON.stringify(event) + '\n';
    buffer += line;
    if (buffer.length >= 1 << 20) {
      bytes += writeSync(fd, buffer);
      buffer = '';
    }
  }
  if (buffer.length > 0) bytes += writeSync(fd, buffer);
  closeSync(fd);
  renameSync(tmp, out);
  manifest.bytes = bytes;
  const manifestFile = manifestFileFor(out);
  writeFileSync(manifestFile, JSON.stringify(manifest, null, 2) + '\n');
  return { file: out, manifestFile, manifest };
}

/** A dataset file's lines (without their newlines) as views of one Buffer holding the whole file. */
export function readDatasetLines(file: string): Buffer[] {
  const all = readFileSync(file);
  const lines: Buffer[] = [];
  for (let start = 0; ; ) {
    const nl = all.indexOf(10, start);
    if (nl === -1) break;
    lines.push(all.subarray(start, nl));
    start = nl + 1;
  }
  return lines;
}

/** The dataset for (lines, seed), generated unless an up-to-date copy is already in bench/out/. */
export function ensureDataset(lines: number, seed: number, force = false, successShare = DEFAULT_SUCCESS_SHARE): { dataset: Dataset; generated: boolean } {
  const file = datasetFile(lines, seed, successShare);
  const manifestFile = manifestFileFor(file);
  if (!force && existsSync(file) && existsSync(manifestFile)) {
    try {
      const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
      if (manifest.generatorVersion === GENERATOR_VERSION && manifest.catalogHash === catalogHash() && manifest.lines === lines && manifest.seed === seed && statSync(file).size === manifest.bytes) {
        return { dataset: { file, manifestFile, manifest }, generated: false };
      }
    } catch {
      // regenerate below
    }
  }
  return { dataset: generate({ lines, seed, out: file, successShare }), generated: true };
}

function main(): void {
  const { values } = parseArgs({
    options: {
      lines: { type: 'string', default: String(DEFAULT_LINES) },
      seed: { type: 'string', default: String(DEFAULT_SEED) },
      out: { type: 'string' },
      force: { type: 'boolean', default: false },
    },
  });
  const lines = Number(values.lines);
  const seed = Number(values.seed);
  if (!Number.isInteger(lines) || lines <= 0) throw new Error(`--lines must be a positive integer, got ${values.lines}`);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got ${values.seed}`);
  const started = performance.now();
  const { dataset, generated } =
    values.out === undefined ? ensureDataset(lines, seed, values.force) : { dataset: generate({ lines, seed, out: values.out }), generated: true };
  const m = dataset.manifest;
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `${generated ? 'generated' : 'reused'} ${dataset.file} (${m.lines} lines, ${(m.bytes / 1e6).toFixed(1)} MB, ${secs} s): ` +
      `${m.outcomes.success} success, ${m.outcomes.error} error (${m.networkErrors} network, ${m.unknownCodes} unknown codes, ` +
      `${m.stringBodies} JSON-string bodies, ${m.htmlBodies} HTML bodies, ${m.numericCodes} numeric codes)\n`,
  );
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
