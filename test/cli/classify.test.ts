import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { leastQueued } from '../../src/cli/commands/classify.ts';
import { callEvent, line } from '../support/events.ts';
import { jsonLines, PAYSIGNAL_BIN, PROJECT_NODE, ROOT, runPaysignal } from '../support/cli.ts';

const OUTPUT_KEYS = ['outcome', 'provider', 'operation', 'status_code', 'code', 'category', 'retry', 'known', 'field', 'correlation_id', 'reason', 'detail'];
const good = (code: string) => line(callEvent({ provider: 'kustom', status: 403, body: { error_code: code, error_messages: [] } }));

describe('paysignal classify', () => {
  it('writes one JSON line per input line, in order, with the documented keys', async () => {
    const input = [good('MERCHANT_INACTIVE'), line(callEvent({ provider: 'setel', status: 200 })), good('REJECTED')].join('\n') + '\n';
    const result = await runPaysignal(['classify', '-'], { stdin: input });
    expect(result.code).toBe(0);
    const out = jsonLines(result.stdout);
    expect(out.map((o) => Object.keys(o))).toEqual([OUTPUT_KEYS, OUTPUT_KEYS, OUTPUT_KEYS]);
    expect(out.map((o) => [o.outcome, o.code])).toEqual([['error', 'MERCHANT_INACTIVE'], ['success', null], ['error', 'REJECTED']]);
  });

  it('keeps every bad line in place with a reason and classifies the lines after it', async () => {
    const bad: Array<[string, Buffer]> = [
      ['not_json', Buffer.from('this is not json')],
      ['not_json', Buffer.from('{"timestamp":"2026-11-20T10:00:00Z","provider":"kus')],
      ['missing_field', Buffer.from('{"provider":"kustom"}')],
      ['missing_field', Buffer.from('{"timestamp":"2026-11-20T10:00:00Z"}')],
      ['wrong_type', Buffer.from('{"timestamp":"2026-11-20T10:00:00Z","provider":"kustom","http":{"status_code":"403"}}')],
      ['too_large', Buffer.from(line(callEvent({ provider: 'kustom', status: 400, body: 'x'.repeat(2 * 1024 * 1024) })))],
      ['not_utf8', Buffer.from([0x00, 0xff, 0xfe, 0x81, 0x90, 0x7b])],
      ['forbidden_key', Buffer.from('{"timestamp":1763800000000,"provider":"x","__proto__":{"admin":true}}')],
    ];
    const parts: Buffer[] = [];
    for (const [, bytes] of bad) parts.push(bytes, Buffer.from('\n'), Buffer.from(good('MERCHANT_INACTIVE')), Buffer.from('\n'));
    // A UTF-8 byte order mark and CRLF line endings are not errors.
    parts.push(Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`${good('REJECTED')}\r\n`));
    const result = await runPaysignal(['classify'], { stdin: Buffer.concat(parts) });
    expect(result.code).toBe(0);
    const out = jsonLines(result.stdout);
    expect(out).toHaveLength(bad.length * 2 + 1);
    bad.forEach(([reason], i) => {
      expect(out[i * 2]).toMatchObject({ outcome: 'invalid', reason });
      expect(typeof out[i * 2]!.detail).toBe('string');
      expect(out[i * 2 + 1]).toMatchObject({ outcome: 'error', code: 'MERCHANT_INACTIVE', known: true });
    });
    expect(out.at(-1)).toMatchObject({ outcome: 'error', code: 'REJECTED' });
  });

  it('never lets planted secrets and personal data through', async () => {
    const input = [
      line(callEvent({ provider: 'stablegenius', status: 401, requestHeaders: { Authorization: 'Bearer sk_live_4eC39HqLyjWDarjtT1zdp7dc' }, correlationId: 'sk_live_4eC39HqLyjWDarjtT1zdp7dc', body: { error: { type: 'authentication_error', code: 'invalid_api_key', message: 'bad key', param: 'jane.doe@example.com' } } })),
      line(callEvent({ provider: 'acme', status: 400, responseHeaders: { 'X-Request-Id': 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpM' }, body: { error: { code: 'x', param: '4111 1111 1111 1111' } } })),
      line(callEvent({ provider: 'mercadopago', status: 400, correlationId: 'for jane.doe@example.com', body: { errors: [{ code: 'required_properties', message: 'card 4111111111111111' }] } })),
    ].join('\n');
    const result = await runPaysignal(['classify'], { stdin: input });
    expect(result.code).toBe(0);
    expect(jsonLines(result.stdout)).toHaveLength(3);
    for (const secret of ['sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'eyJhbGciOiJIUzI1NiJ9', '4111 1111 1111 1111', '4111111111111111', 'jane.doe@example.com']) {
      expect(result.stdout).not.toContain(secret);
      expect(result.stderr).not.toContain(secret);
    }
  });

  it('classifies the example file shipped in the repository', async () => {
    const file = join(ROOT, 'examples', 'events.ndjson');
    const lines = (await readFile(file, 'utf8')).split('\n').filter(Boolean).length;
    const result = await runPaysignal(['classify', file]);
    expect(result.code).toBe(0);
    const out = jsonLines(result.stdout);
    expect(out).toHaveLength(lines);
    expect(out.filter((o) => o.outcome === 'error').length).toBeGreaterThan(0);
    expect(out.filter((o) => o.outcome === 'invalid').length).toBeGreaterThan(0);
  });

  it('gives the same output, in the same order, on one thread and on several', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 30_000; i++) {
      if (i % 997 === 0) lines.push('{"broken": ');
      else if (i % 1499 === 0) lines.push(line(callEvent({ provider: 'kustom', status: 400, body: 'y'.repeat(3000) })));
      else lines.push(line(callEvent({ provider: ['kustom', 'setel', 'mercadopago'][i % 3]!, status: i % 5 === 0 ? 200 : 403, correlationId: `c-${i}`, body: { error_code: `CODE_${i % 7}` } })));
    }
    const input = lines.join('\n') + '\n';
    const single = await runPaysignal(['classify', '--workers', '0', '--max-event-bytes', '2000'], { stdin: input });
    const parallel = await runPaysignal(['classify', '--workers', '3', '--max-event-bytes', '2000'], { stdin: input });
    expect(single.code).toBe(0);
    expect(parallel.code).toBe(0);
    expect(jsonLines(single.stdout)).toHaveLength(30_000);
    expect(parallel.stdout).toBe(single.stdout);
    expect(jsonLines(single.stdout).filter((o) => o.reason === 'too_large').length).toBe(Math.floor(29_999 / 1499) - Math.floor(29_999 / (997 * 1499)));
  });

  it('rejects a bad --workers value', async () => {
    expect((await runPaysignal(['classify', '--workers', 'many'])).code).toBe(2);
  });

  it('reads other shapes through --mapping', async () => {
    const ecs = JSON.stringify({ '@timestamp': '2026-11-20T10:00:00Z', labels: { payment_provider: 'kustom' }, http: { response: { status_code: 403, body: { error_code: 'MERCHANT_INACTIVE' } } } });
    const result = await runPaysignal(['classify', '--mapping', 'ecs'], { stdin: ecs });
    expect(jsonLines(result.stdout)).toEqual([expect.objectContaining({ code: 'MERCHANT_INACTIVE', known: true })]);
  });

  it('fails clearly on a missing file and on bad options', async () => {
    const missing = await runPaysignal(['classify', '/nonexistent/events.ndjson']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('INPUT_NOT_READABLE');
    expect(missing.stderr).toContain('/nonexistent/events.ndjson');
    expect((await runPaysignal(['classify', '--max-event-bytes', 'lots'])).code).toBe(2);
    expect((await runPaysignal(['classify', '--no-such-flag'])).code).toBe(2);
    expect((await runPaysignal(['classify', '--mapping', '/nonexistent.yaml'])).stderr).toContain('MAPPING_NOT_FOUND');
  });

  it('streams: 700k events (over 100 MB) through stdin in bounded memory', async () => {
    // A 48 MB heap per thread cannot hold the input: the run only passes if the command really streams.
    const child = spawn(PROJECT_NODE, ['--max-old-space-size=48', PAYSIGNAL_BIN, 'classify', '--workers', '2', '-'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    let outLines = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) outLines++;
    });
    let peakKb = 0;
    const sampler = setInterval(() => {
      void readFile(`/proc/${child.pid}/status`, 'utf8').then((s) => {
        peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0));
      }, () => undefined);
    }, 50);
    const block = Array.from({ length: 1000 }, (_, i) => good(i % 2 ? 'MERCHANT_INACTIVE' : 'BAD_VALUE')).join('\n') + '\n';
    const blocks = 700;
    for (let i = 0; i < blocks; i++) {
      if (!child.stdin.write(block)) await new Promise((r) => child.stdin.once('drain', r));
    }
    child.stdin.end();
    const code = await new Promise((r) => child.once('close', r));
    clearInterval(sampler);
    expect(code).toBe(0);
    expect(outLines).toBe(blocks * 1000);
    // ~110 MB of input went through; the process stays far below that.
    expect(block.length * blocks).toBeGreaterThan(100_000_000);
    expect(peakKb).toBeGreaterThan(0);
    // Three threads (reader and two workers), each with its own bounded heap.
    expect(peakKb).toBeLessThan(400_000);
  }, 120_000);
});

describe('paysignal explain', () => {
  it('shows the entry, the decision and what to do', async () => {
    const result = await runPaysignal(['explain', 'kustom', 'MERCHANT_INACTIVE']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('merchant_config');
    expect(result.stdout).toContain('contact_provider');
    expect(result.stdout).toContain('what to do:');
    expect(result.stdout).toContain('HTTP 403');
  });

  it('prints JSON with --json', async () => {
    const result = await runPaysignal(['explain', 'setel', '9300105', '--json']);
    expect(JSON.parse(result.stdout)).toEqual([expect.objectContaining({ code: '9300105', name: 'SESSION_ALREADY_EXPIRED', retry: 'new_checkout' })]);
  });

  it('explains an error type of a provider with type fallbacks', async () => {
    const result = await runPaysignal(['explain', 'stablegenius', 'rate_limit_error']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('retry_with_backoff');
  });

  it('suggests close codes for an unknown one and exits 1', async () => {
    const result = await runPaysignal(['explain', 'kustom', 'MERCHANT']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('MERCHANT_INACTIVE');
  });

  it('names the known providers for an unknown one', async () => {
    const result = await runPaysignal(['explain', 'acmepay', 'x']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('mercadopago');
    expect((await runPaysignal(['explain', 'kustom'])).code).toBe(2);
  });
});

describe('paysignal classify startup', () => {
  it('keeps its own and its workers\' compiled code in a compile cache between runs', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'paysignal-compile-cache-'));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: tmp };
      delete env.NODE_COMPILE_CACHE;
      delete env.NODE_DISABLE_COMPILE_CACHE;
      const result = await runPaysignal(['classify', '--workers', '1'], { stdin: good('MERCHANT_INACTIVE'), env });
      expect(result.code).toBe(0);
      expect(jsonLines(result.stdout)).toHaveLength(1);
      const cache = join(tmp, 'node-compile-cache');
      const entries = (await readdir(cache, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
      const contents = await Promise.all(entries.map((e) => readFile(join(e.parentPath, e.name))));
      // The command's entry module is compiled on the main thread; only the worker loads the decoder.
      for (const module of ['src/cli/main.ts', 'src/events/decode.ts']) expect(contents.some((c) => c.includes(module))).toBe(true);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });

  it('sends each chunk to the worker with the fewest chunks queued', () => {
    expect(leastQueued([2, 1, 2])).toBe(1);
    expect(leastQueued([1, 1, 0, 0])).toBe(2);
    expect(leastQueued([0])).toBe(0);
  });
});
