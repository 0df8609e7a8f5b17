// Kafka for tests: the embedded broker (librdkafka mock cluster on 127.0.0.1), or a real cluster when
// KAFKA_BROKERS is set (topics then get unique names and are created with the kafkajs admin).
// Plus helpers to produce events, read the dead-letter topic and read committed offsets.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel, Partitioners, type Admin, type IHeaders, type ISocketFactory, type Message, type Producer } from 'kafkajs';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../src/embedded-broker/index.ts';
import { suppressKafkajsTimeoutNegativeWarning } from '../../src/sources/kafka/warnings.ts';
import { waitFor } from './processes.ts';

suppressKafkajsTimeoutNegativeWarning();

/**
 * A socket factory whose connections can be cut: while cut, every open socket is destroyed and new
 * ones fail at once. Simulates a network outage between a client and any cluster (used when the
 * brokers are not ours to take down).
 */
export interface FaultySockets {
  readonly socketFactory: ISocketFactory;
  cut(): void;
  restore(): void;
}

export function createFaultySockets(): FaultySockets {
  const open = new Set<Socket>();
  let isCut = false;
  const socketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
    const socket: Socket = ssl
      ? tlsConnect(Object.assign({ host, port, servername: host }, typeof ssl === 'object' ? ssl : {}), onConnect)
      : new Socket().connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 10_000);
    if (isCut) {
      setImmediate(() => socket.destroy(new Error('connect ECONNREFUSED (simulated outage)')));
    } else {
      open.add(socket);
      socket.once('close', () => open.delete(socket));
    }
    return socket;
  };
  return {
    socketFactory,
    cut() {
      isCut = true;
      for (const s of open) s.destroy(new Error('connection reset (simulated outage)'));
      open.clear();
    },
    restore() {
      isCut = false;
    },
  };
}

export interface TestKafka {
  readonly mode: 'embedded' | 'external';
  readonly brokers: readonly string[];
  readonly bootstrapServers: string;
  /** The embedded broker, null against an external cluster. */
  readonly embedded: EmbeddedBroker | null;
  readonly kafka: Kafka;
  /** Creates a topic with a unique name starting with `prefix`; resolves with its name. */
  createTopic(prefix: string, partitions: number): Promise<string>;
  /**
   * Makes the brokers unreachable for `ms`: the embedded brokers go down (connections closed,
   * refused); against an external cluster the given faulty sockets are cut.
   */
  outage(ms: number, sockets: FaultySockets): Promise<void>;
  produce(topic: string, messages: readonly Message[]): Promise<void>;
  /** Committed offset (next to process) per partition; -1 when none. */
  committedOffsets(groupId: string, topic: string): Promise<Map<number, bigint>>;
  /** High watermark per partition. */
  highWatermarks(topic: string): Promise<Map<number, bigint>>;
  /** Reads `count` messages of a topic from the beginning (with a throwaway group). */
  readMessages(topic: string, count: number, timeoutMs?: number): Promise<ReadMessage[]>;
  stop(): Promise<void>;
}

export interface ReadMessage {
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
}

function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const v = Array.isArray(value) ? value[value.length - 1] : value;
    out[name] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
  }
  return out;
}

/** The embedded broker, or the cluster in KAFKA_BROKERS. */
export async function startTestKafka(): Promise<TestKafka> {
  const external = process.env.KAFKA_BROKERS?.trim();
  const embedded = external ? null : await startEmbeddedBroker();
  const brokers = external ? external.split(',').map((s) => s.trim()).filter(Boolean) : embedded!.brokers;
  const kafka = new Kafka({ brokers: [...brokers], clientId: 'paysignal-test', logLevel: logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 200 } });
  let admin: Admin | null = null;
  let producer: Producer | null = null;
  const getAdmin = async (): Promise<Admin> => {
    if (admin === null) {
      admin = kafka.admin();
      await admin.connect();
    }
    return admin;
  };
  const getProducer = async (): Promise<Producer> => {
    if (producer === null) {
      producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
      await producer.connect();
    }
    return producer;
  };

  return {
    mode: external ? 'external' : 'embedded',
    brokers,
    bootstrapServers: brokers.join(','),
    embedded,
    kafka,
    async createTopic(prefix, partitions) {
      const name = `${prefix}-${randomUUID().slice(0, 8)}`;
      if (embedded !== null) {
        await embedded.createTopic(name, partitions);
      } else {
        const a = await getAdmin();
        await a.createTopics({ topics: [{ topic: name, numPartitions: partitions }], waitForLeaders: true });
      }
      // Wait until metadata answers for every partition.
      await waitFor(`topic ${name} metadata`, async () => {
        const a = await getAdmin();
        const offsets = await a.fetchTopicOffsets(name);
        return offsets.length === partitions ? true : undefined;
      }, 20_000, 100);
      return name;
    },
    async outage(ms, sockets) {
      if (embedded !== null) {
        for (let id = 1; id <= embedded.brokerCount; id++) await embedded.brokerDown(id);
        await sleep(ms);
        for (let id = 1; id <= embedded.brokerCount; id++) await embedded.brokerUp(id);
      } else {
        sockets.cut();
        await sleep(ms);
        sockets.restore();
      }
    },
    async produce(topic, messages) {
      const p = await getProducer();
      for (let i = 0; i < messages.length; i += 500) {
        await p.send({ topic, messages: messages.slice(i, i + 500) as Message[], acks: -1 });
      }
    },
    async committedOffsets(groupId, topic) {
      const a = await getAdmin();
      const [result] = await a.fetchOffsets({ groupId, topics: [topic] });
      const out = new Map<number, bigint>();
      for (const p of result?.partitions ?? []) out.set(p.partition, BigInt(p.offset));
      return out;
    },
    async highWatermarks(topic) {
      const a = await getAdmin();
      const out = new Map<number, bigint>();
      for (const p of await a.fetchTopicOffsets(topic)) out.set(p.partition, BigInt(p.high));
      return out;
    },
    async readMessages(topic, count, timeoutMs = 30_000) {
      const consumer = kafka.consumer({ groupId: `paysignal-test-reader-${randomUUID()}`, sessionTimeout: 10_000, heartbeatInterval: 1000, maxWaitTimeInMs: 200 });
      const got: ReadMessage[] = [];
      await consumer.connect();
      try {
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ partition, message }) => {
            got.push({ partition, offset: message.offset, key: message.key, value: message.value, headers: headersToStrings(message.headers) });
          },
        });
        await waitFor(`${count} messages on ${topic} (have ${got.length})`, () => (got.length >= count ? true : undefined), timeoutMs, 50);
      } finally {
        await consumer.disconnect();
      }
      return got;
    },
    async stop() {
      await (producer as Producer | null)?.disconnect().catch(() => {});
      await (admin as Admin | null)?.disconnect().catch(() => {});
      await embedded?.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Test events
// ---------------------------------------------------------------------------------------------

export interface TestEventKind {
  readonly provider: string;
  /** The provider code the classifier must find; null for a success. */
  readonly code: string | null;
  readonly build: (id: string, timestampMs: number) => Record<string, unknown>;
}

/** Events of the seed providers with codes the catalogs know (docs/architecture.md#taxonomy and #where-provider-knowledge-lives). */
export const EVENT_KINDS: readonly TestEventKind[] = [
  {
    provider: 'kustom',
    code: 'MERCHANT_INACTIVE',
    build: (id, ts) => ({
      timestamp: ts,
      provider: 'kustom',
      operation: 'create_order',
      http: { method: 'POST', route: '/payments/v1/sessions', status_code: 403, duration_ms: 80 },
      response: { body: { error_code: 'MERCHANT_INACTIVE', error_messages: ['Merchant is inactive'], correlation_id: `kc-${id}` } },
      correlation_id: id,
    }),
  },
  {
    provider: 'mercadopago',
    code: 'invalid_total_amount',
    build: (id, ts) => ({
      timestamp: ts,
      provider: 'mercadopago',
      operation: 'create_order',
      http: { method: 'POST', route: '/v1/orders', status_code: 400, duration_ms: 45 },
      response: { body: { errors: [{ code: 'invalid_total_amount', message: 'total amount is invalid', details: [] }] } },
      correlation_id: id,
    }),
  },
  {
    provider: 'setel',
    code: '9300002',
    build: (id, ts) => ({
      timestamp: ts,
      provider: 'setel',
      http: { method: 'POST', route: '/api/payments', status_code: 401 },
      response: { body: { errorCode: 9300002 } },
      correlation_id: id,
    }),
  },
  {
    provider: 'stablegenius',
    code: 'amount_out_of_range',
    build: (id, ts) => ({
      timestamp: ts,
      provider: 'stablegenius',
      operation: 'create_payment_intent',
      http: { method: 'POST', route: '/v1/payment_intents', status_code: 422 },
      response: { body: { error: { type: 'invalid_request_error', code: 'amount_out_of_range', param: 'amount', message: 'amount out of range' } } },
      correlation_id: id,
    }),
  },
  {
    provider: 'kustom',
    code: null,
    build: (id, ts) => ({
      timestamp: ts,
      provider: 'kustom',
      operation: 'create_order',
      http: { method: 'POST', route: '/payments/v1/sessions', status_code: 200, duration_ms: 30 },
      correlation_id: id,
    }),
  },
];

export interface ProducedEvent {
  readonly id: string;
  readonly provider: string;
  readonly code: string | null;
  readonly message: Message;
}

/** `count` events cycling through EVENT_KINDS, with ids `${prefix}-${n}` (n from `start`). */
export function makeEvents(prefix: string, count: number, start = 0): ProducedEvent[] {
  const out: ProducedEvent[] = [];
  const base = Date.UTC(2026, 10, 22, 10, 0, 0);
  for (let n = start; n < start + count; n++) {
    const kind = EVENT_KINDS[n % EVENT_KINDS.length]!;
    const id = `${prefix}-${n}`;
    out.push({
      id,
      provider: kind.provider,
      code: kind.code,
      message: { key: id, value: JSON.stringify(kind.build(id, base + n)), headers: { 'x-test-id': id } },
    });
  }
  return out;
}

/** `provider/code` -> count, the way tests compare what was produced with what was classified. */
export function countByProviderAndCode(items: Iterable<{ provider: string | null; code: string | null }>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    const k = `${item.provider}/${item.code ?? 'success'}`;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// The NDJSON events file (src/sinks/events-file.ts): what a paysignal process actually processed
// ---------------------------------------------------------------------------------------------

export interface EventLine {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly outcome: 'success' | 'error' | 'invalid';
  readonly provider: string | null;
  readonly code: string | null;
  readonly correlation_id: string | null;
  readonly reason: string | null;
}

/** Complete lines of an events file (a line cut by SIGKILL mid-write is ignored); [] when absent. */
export function readEventLines(path: string): EventLine[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  const lines = text.split('\n');
  lines.pop(); // after the last newline: empty, or a partial line
  return lines.map((l) => JSON.parse(l) as EventLine);
}
