// The command-line conventions users expect: --help with examples on every command, one set of exit
// codes (0 success, 1 failure, 2 usage error), --version, and no terminal control sequences when
// NO_COLOR is set.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { PAYSIGNAL_BIN, PROJECT_NODE, ROOT, runPaysignal } from '../support/cli.ts';

const COMMANDS = [['classify'], ['explain'], ['run'], ['demo'], ['report'], ['rules'], ['rules', 'check'], ['rules', 'test'], ['rules', 'compile']];
const ANSI_ESCAPE = '\x1b';

/**
 * `paysignal demo` on a pseudo-terminal, as in an interactive shell (util-linux `script` provides the
 * terminal); resolves with everything written to it. The whole process group is killed afterwards.
 */
async function demoOnTerminal(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
  const command = [PROJECT_NODE, PAYSIGNAL_BIN, 'demo', '--duration', '3', '--rate', '50', '--port', '0'].map(quote).join(' ');
  const child = spawn('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
    cwd: ROOT,
    env: { ...process.env, TERM: 'xterm', PAYSIGNAL_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 90_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // the group is already gone
  }
  return { code, output };
}

describe('paysignal command-line conventions', () => {
  it.each(COMMANDS.map((command) => [command.join(' '), command] as const))('`paysignal %s --help` shows usage, examples and exit codes', async (_name, command) => {
    const result = await runPaysignal([...command, '--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(new RegExp(`^Usage: paysignal ${command[0]} `));
    const examples = result.stdout.slice(result.stdout.indexOf('\nExamples:\n'));
    expect(examples.length).toBeGreaterThan(12);
    const exampleLines = examples.split('\n\n')[0]!.split('\n').slice(2);
    expect(exampleLines.length).toBeGreaterThan(0);
    for (const line of exampleLines) expect(line).toContain(`paysignal ${command[0]}`);
    expect(result.stdout).toMatch(/\nExit codes: 0 [^\n]*, 1 [^]*, 2 usage error\b/);
  });

  it('`paysignal --help` lists every command with examples and the exit codes', async () => {
    const result = await runPaysignal(['--help']);
    expect(result.code).toBe(0);
    for (const [command] of COMMANDS) expect(result.stdout).toContain(`\n  ${command} `);
    expect(result.stdout).toContain('\nExamples:\n  paysignal ');
    expect(result.stdout).toContain('Exit codes: 0 success, 1 failure');
    expect(result.stdout).toContain('NO_COLOR');
  });

  it('exits with 2 on usage errors and 1 on failures', async () => {
    const bare = await runPaysignal([]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toBe('');
    expect(bare.stderr).toMatch(/^paysignal: missing command\nUsage: paysignal <command>/);
    expect((await runPaysignal(['frobnicate'])).code).toBe(2);
    expect((await runPaysignal(['classify', '--no-such-option'])).code).toBe(2);
    expect((await runPaysignal(['rules', 'compile', '--format', 'xml'])).code).toBe(2);
    expect((await runPaysignal(['classify', '/nonexistent/events.ndjson'])).code).toBe(1);
    expect((await runPaysignal(['explain', 'kustom', 'NO_SUCH_CODE'])).code).toBe(1);
  });

  it('the demo redraws its summary in place on a terminal, and writes no control sequences there with NO_COLOR set', async () => {
    const [plain, withNoColor] = await Promise.all([demoOnTerminal({ NO_COLOR: '' }), demoOnTerminal({ NO_COLOR: '1' })]);
    expect(plain.code, plain.output).toBe(0);
    expect(plain.output).toContain(ANSI_ESCAPE);
    expect(withNoColor.code, withNoColor.output).toBe(0);
    expect(withNoColor.output).toContain('paysignal demo finished:');
    expect(withNoColor.output).not.toContain(ANSI_ESCAPE);
  }, 120_000);
});
