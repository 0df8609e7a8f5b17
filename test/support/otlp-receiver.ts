// An OTLP/HTTP trace receiver for tests: node:http on 127.0.0.1 and a free port, POST /v1/traces with
// `application/x-protobuf` bodies (gzip accepted), decoded with protobufjs from the OTLP proto
// definitions below (opentelemetry-proto v1 trace and common messages, fields the tests need), or
// `application/json` bodies (OTLP/JSON: the same messages, ids in hex).
// It can be made slow (answers after a delay) or failing (answers 503) to test back-pressure.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

const OTLP_TRACE_PROTO = `
syntax = "proto3";
package otlp;

message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; repeated KeyValue attributes = 3; uint32 dropped_attributes_count = 4; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  string name = 5;
  SpanKind kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  uint32 dropped_attributes_count = 10;
  Status status = 15;
  fixed32 flags = 16;
  enum SpanKind {
    SPAN_KIND_UNSPECIFIED = 0; SPAN_KIND_INTERNAL = 1; SPAN_KIND_SERVER = 2; SPAN_KIND_CLIENT = 3;
    SPAN_KIND_PRODUCER = 4; SPAN_KIND_CONSUMER = 5;
  }
}
message Status {
  string message = 2;
  StatusCode code = 3;
  enum StatusCode { STATUS_CODE_UNSET = 0; STATUS_CODE_OK = 1; STATUS_CODE_ERROR = 2; }
}
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value {
    string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4;
    ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
`;

const root = protobuf.parse(OTLP_TRACE_PROTO, { keepCase: false }).root;
const ExportTraceServiceRequest = root.lookupType('otlp.ExportTraceServiceRequest');

export type AttributeValue = string | number | boolean | null | AttributeValue[];

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  /** 3 is CLIENT. */
  readonly kind: number;
  readonly startTimeUnixNano: bigint;
  readonly endTimeUnixNano: bigint;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly resource: Readonly<Record<string, AttributeValue>>;
  readonly scope: string;
  /** W3C trace flags in the low byte, OTLP's has-is-remote / is-remote bits above (0x100 / 0x200). */
  readonly flags: number;
}

export type ReceiverMode = { readonly kind: 'ok' } | { readonly kind: 'slow'; readonly delayMs: number } | { readonly kind: 'fail'; readonly status: number };

export interface OtlpReceiver {
  /** Base URL, e.g. http://127.0.0.1:4318 (the exporter appends nothing when given the traces URL). */
  readonly url: string;
  readonly tracesUrl: string;
  readonly spans: ReceivedSpan[];
  /** Export requests received (including ones answered slowly or with errors). */
  readonly requests: number;
  /** Content-Type and Content-Encoding and custom headers of the last request. */
  readonly lastHeaders: Readonly<Record<string, string | string[] | undefined>>;
  setMode(mode: ReceiverMode): void;
  close(): Promise<void>;
}

interface DecodedKeyValue {
  key: string;
  value?: DecodedAnyValue;
}
interface DecodedAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values?: DecodedAnyValue[] };
  bytesValue?: string;
}

function anyValue(v: DecodedAnyValue | undefined): AttributeValue {
  if (v === undefined) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyValue);
  if (v.bytesValue !== undefined) return v.bytesValue;
  return null;
}

function attributes(list: DecodedKeyValue[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

interface DecodedRequest {
  resourceSpans: Array<{
      resource?: { attributes?: DecodedKeyValue[] };
      scopeSpans?: Array<{
        scope?: { name?: string };
        spans?: Array<{
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          name: string;
          kind: number;
          startTimeUnixNano: string;
          endTimeUnixNano: string;
          attributes?: DecodedKeyValue[];
          status?: { code?: number; message?: string };
          flags?: number;
        }>;
      }>;
    }>;
}

/** Decodes a protobuf ExportTraceServiceRequest into flat spans. */
export function decodeTraceRequest(body: Uint8Array): ReceivedSpan[] {
  const message = ExportTraceServiceRequest.decode(body);
  const request = ExportTraceServiceRequest.toObject(message, { longs: String, bytes: String, enums: Number, defaults: true }) as DecodedRequest;
  return flatten(request, (b64) => Buffer.from(b64, 'base64').toString('hex'));
}

/** Decodes an OTLP/JSON ExportTraceServiceRequest (ids are hex there, not base64) into flat spans. */
export function decodeJsonTraceRequest(body: Uint8Array): ReceivedSpan[] {
  const request = JSON.parse(Buffer.from(body).toString('utf8')) as DecodedRequest;
  return flatten(request, (id) => id.toLowerCase());
}

function flatten(request: DecodedRequest, hex: (id: string) => string): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        spans.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId ?? ''),
          name: s.name,
          kind: s.kind,
          startTimeUnixNano: BigInt(s.startTimeUnixNano),
          endTimeUnixNano: BigInt(s.endTimeUnixNano),
          attributes: attributes(s.attributes),
          statusCode: s.status?.code ?? 0,
          statusMessage: s.status?.message ?? '',
          resource,
          scope: ss.scope?.name ?? '',
          flags: s.flags ?? 0,
        });
      }
    }
  }
  return spans;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  return req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
}

export async function startOtlpReceiver(initial: ReceiverMode = { kind: 'ok' }): Promise<OtlpReceiver> {
  let mode: ReceiverMode = initial;
  const spans: ReceivedSpan[] = [];
  let requests = 0;
  let lastHeaders: Record<string, string | string[] | undefined> = {};
  const timers = new Set<NodeJS.Timeout>();

  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end();
        return;
      }
      requests++;
      lastHeaders = { ...req.headers };
      const body = await readBody(req);
      const current = mode;
      const answer = (): void => {
        if (current.kind === 'fail') {
          res.writeHead(current.status, { 'content-type': 'application/x-protobuf' }).end();
          return;
        }
        const json = String(req.headers['content-type'] ?? '').startsWith('application/json');
        spans.push(...(json ? decodeJsonTraceRequest(body) : decodeTraceRequest(body)));
        // An empty ExportTraceServiceResponse.
        if (json) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      };
      if (current.kind === 'slow') {
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer();
        }, current.delayMs);
        timers.add(timer);
      } else {
        answer();
      }
    })().catch(() => {
      if (!res.headersSent) res.writeHead(400).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    tracesUrl: `${url}/v1/traces`,
    spans,
    get requests() {
      return requests;
    },
    get lastHeaders() {
      return lastHeaders;
    },
    setMode(next) {
      mode = next;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
