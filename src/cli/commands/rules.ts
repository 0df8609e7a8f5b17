// `paysignal rules check|test|compile`: validate rule files, run rule unit tests, compile rules to
// Prometheus rule files or a PrometheusRule resource. Exit codes: 0 ok, 1 invalid rules or failed
// tests, 2 usage errors.
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { toPrometheusRule, toPrometheusRuleFile } from '../../alerting/compiler.ts';
import { formatProblem, loadRules } from '../../alerting/loader.ts';
import { runRuleTests } from '../../alerting/testing.ts';

export const RULES_USAGE = `Usage: paysignal rules <check|test|compile> [options] [PATH...]

  check   [PATH...]   validate rule files (files or directories of *.yaml); default $PAYSIGNAL_RULES or rules/
  test    [PATH...]   run rule unit tests (files or directories); default rules/tests/
          --promtool         also run every test through \`promtool test rules\` on the compiled rules
          --promtool-bin BIN the promtool to use (default: promtool on PATH)
  compile [PATH...]   compile rules to Prometheus rules
          --format prometheus|prometheusrule   (default prometheus)
          --out FILE         write there instead of stdout
          --name NAME        PrometheusRule metadata.name (default paysignal-rules)
          --namespace NS     PrometheusRule metadata.namespace
          --label KEY=VALUE  PrometheusRule metadata label (repeatable)

Examples:
  paysignal rules check rules/
  paysignal rules test rules/tests/ --promtool
  paysignal rules compile rules/ --format prometheusrule --namespace monitoring --out prometheusrule.yaml

Exit codes: 0 ok, 1 invalid rules or failed tests, 2 usage error.`;

type Out = { write(text: string): unknown };

function usage(stderr: Out, message: string): number {
  stderr.write(`paysignal rules: ${message}\n${RULES_USAGE}\n`);
  return 2;
}

function defaultRulePaths(): string[] {
  return [process.env.PAYSIGNAL_RULES ?? 'rules'];
}

async function check(paths: string[], stdout: Out, stderr: Out): Promise<number> {
  const { ruleSets, problems } = await loadRules(paths);
  if (problems.length > 0) {
    for (const p of problems) stderr.write(`${formatProblem(p)}\n`);
    stderr.write(`${problems.length} problem${problems.length === 1 ? '' : 's'}; rules are invalid\n`);
    return 1;
  }
  const rules = ruleSets.reduce((n, s) => n + s.rules.length, 0);
  for (const s of ruleSets) stdout.write(`${s.file}: ${s.rules.length} rule${s.rules.length === 1 ? '' : 's'} OK (${s.rules.map((r) => r.name).join(', ')})\n`);
  stdout.write(`OK: ${rules} rules in ${ruleSets.length} file${ruleSets.length === 1 ? '' : 's'}\n`);
  return 0;
}

async function testFiles(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const p of paths) {
    const info = await stat(p);
    if (info.isDirectory()) {
      const entries = (await readdir(p)).filter((f) => /\.ya?ml$/.test(f)).sort();
      files.push(...entries.map((f) => join(p, f)));
    } else files.push(p);
  }
  return files;
}

async function test(paths: string[], promtool: string | null, stdout: Out, stderr: Out): Promise<number> {
  let files: string[];
  try {
    files = await testFiles(paths);
  } catch (error) {
    stderr.write(`paysignal rules test: ${(error as Error).message}\n`);
    return 1;
  }
  if (files.length === 0) {
    stderr.write(`paysignal rules test: no test files in ${paths.join(', ')}\n`);
    return 1;
  }
  const started = Date.now();
  const { results, errors } = await runRuleTests(files, { promtool });
  for (const e of errors) stderr.write(`ERROR ${e}\n`);
  let failed = 0;
  for (const r of results) {
    if (r.failures.length === 0) stdout.write(`PASS ${r.file}: ${r.test}\n`);
    else {
      failed++;
      stdout.write(`FAIL ${r.file}: ${r.test}\n`);
      for (const f of r.failures) stdout.write(`    ${f}\n`);
    }
  }
  stdout.write(`${results.length - failed} passed, ${failed} failed, ${errors.length} errors (${Date.now() - started} ms)${promtool ? ', cross-checked with promtool' : ''}\n`);
  return failed > 0 || errors.length > 0 ? 1 : 0;
}

async function compile(
  paths: string[],
  opts: { format: string; out: string | undefined; name: string | undefined; namespace: string | undefined; labels: string[] },
  stdout: Out,
  stderr: Out,
): Promise<number> {
  if (opts.format !== 'prometheus' && opts.format !== 'prometheusrule') return usage(stderr, `--format must be prometheus or prometheusrule, got "${opts.format}"`);
  const labels: Record<string, string> = {};
  for (const l of opts.labels) {
    const i = l.indexOf('=');
    if (i <= 0) return usage(stderr, `--label takes KEY=VALUE, got "${l}"`);
    labels[l.slice(0, i)] = l.slice(i + 1);
  }
  const { ruleSets, problems } = await loadRules(paths);
  if (problems.length > 0) {
    for (const p of problems) stderr.write(`${formatProblem(p)}\n`);
    return 1;
  }
  const text =
    opts.format === 'prometheus'
      ? toPrometheusRuleFile(ruleSets)
      : toPrometheusRule(ruleSets, {
          ...(opts.name === undefined ? {} : { name: opts.name }),
          ...(opts.namespace === undefined ? {} : { namespace: opts.namespace }),
          labels,
        });
  if (opts.out === undefined) stdout.write(text);
  else {
    await mkdir(dirname(opts.out), { recursive: true });
    await writeFile(opts.out, text);
    stderr.write(`wrote ${opts.out} (${ruleSets.reduce((n, s) => n + s.rules.length, 0)} alerts, ${opts.format})\n`);
  }
  return 0;
}

/** Entry point of `paysignal rules`; returns the exit code. */
export async function rulesCommand(argv: string[], io: { stdout?: Out; stderr?: Out } = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const [sub, ...rest] = argv;
  if (sub === undefined) return usage(stderr, 'missing subcommand');
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    stdout.write(`${RULES_USAGE}\n`);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        promtool: { type: 'boolean' },
        'promtool-bin': { type: 'string' },
        format: { type: 'string', default: 'prometheus' },
        out: { type: 'string', short: 'o' },
        name: { type: 'string' },
        namespace: { type: 'string' },
        label: { type: 'string', multiple: true, default: [] },
      },
    });
  } catch (error) {
    return usage(stderr, (error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    stdout.write(`${RULES_USAGE}\n`);
    return 0;
  }
  const only = (allowed: string[]): string | null => {
    for (const key of ['promtool', 'promtool-bin', 'out', 'name', 'namespace'] as const) if (values[key] !== undefined && !allowed.includes(key)) return `--${key} does not apply to "rules ${sub}"`;
    if ((values.label ?? []).length > 0 && !allowed.includes('label')) return `--label does not apply to "rules ${sub}"`;
    if (values.format !== 'prometheus' && !allowed.includes('format')) return `--format does not apply to "rules ${sub}"`;
    return null;
  };
  switch (sub) {
    case 'check': {
      const bad = only([]);
      if (bad) return usage(stderr, bad);
      return await check(positionals.length > 0 ? positionals : defaultRulePaths(), stdout, stderr);
    }
    case 'test': {
      const bad = only(['promtool', 'promtool-bin']);
      if (bad) return usage(stderr, bad);
      const promtool = values.promtool || values['promtool-bin'] !== undefined ? (values['promtool-bin'] ?? 'promtool') : null;
      return await test(positionals.length > 0 ? positionals : ['rules/tests'], promtool, stdout, stderr);
    }
    case 'compile': {
      const bad = only(['out', 'name', 'namespace', 'label', 'format']);
      if (bad) return usage(stderr, bad);
      return await compile(
        positionals.length > 0 ? positionals : defaultRulePaths(),
        { format: values.format ?? 'prometheus', out: values.out, name: values.name, namespace: values.namespace, labels: values.label ?? [] },
        stdout,
        stderr,
      );
    }
    default:
      return usage(stderr, `unknown subcommand "${sub}"`);
  }
}
