// Ctrl-C during `paysignal demo` stops everything cleanly: the pipeline finishes, the embedded
// broker goes away, the summary is printed and the exit code is 0.
import { execFileSync, spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PAYSIGNAL_BIN, PROJECT_NODE, ROOT } from '../support/cli.ts';
import { isAlive, waitFor } from '../support/processes.ts';

describe('paysignal demo and Ctrl-C', () => {
  it('stops the pipeline and the embedded broker, prints the summary and exits 0', async () => {
    const child = spawn(PROJECT_NODE, [PAYSIGNAL_BIN, 'demo', '--duration', '600', '--port', '0'], {
      cwd: ROOT,
      env: { ...process.env, PAYSIGNAL_LOG_LEVEL: 'warn', ALERTMANAGER_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor('the demo to process traffic', () => (/processed [1-9]\d{2,}/.test(out) ? true : undefined), 90_000, 200);
    // The embedded broker is the compiled launcher, node_modules/.cache/paysignal/mock-broker-<hash>.
    const launchers = execFileSync('pgrep', ['-P', String(child.pid), '-f', 'mock-broker-'], { encoding: 'utf8' })
      .split('\n').filter(Boolean).map(Number);
    expect(launchers.length).toBe(1);

    const interruptedAt = Date.now();
    child.kill('SIGINT');
    const code = await exited;
    expect(code, out.slice(-2000)).toBe(0);
    expect(Date.now() - interruptedAt).toBeLessThan(30_000);
    expect(out).toContain('stopping (Ctrl-C again to exit at once)');
    expect(out).toMatch(/paysignal demo finished: \d+ events produced/);
    await waitFor('the embedded broker to exit', () => (launchers.every((pid) => !isAlive(pid)) ? true : undefined), 5_000, 100);
  }, 150_000);
});
