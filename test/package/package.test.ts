// paysignal as a new user gets it: the project packed with `npm pack`, the tarball installed into an
// empty folder with its production dependencies only, and every command run from there, from the
// compiled JavaScript, on the project's Node 24. Its output must be the repository's, byte for byte.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTrafficGenerator } from '../../src/demo/traffic.ts';
import { outputOf, PROJECT_NODE, ROOT, runPaysignal, type CliResult } from '../support/cli.ts';
import { makeEvents, startTestKafka } from '../support/kafka.ts';
import { freePort } from '../support/ports.ts';
import { startProcess, waitFor } from '../support/processes.ts';
import { serviceEnv } from '../support/service-env.ts';

const PKG = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; engines: { node: string } };
// Only the project's Node 24 goes in front of PATH (its own bin folder holds nothing else), so the
// installed command's `#!/usr/bin/env node` finds it, as it finds the user's Node.
const NODE_DIR = dirname(realpathSync(PROJECT_NODE));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

let work: string;
let app: string;
let installed: string;
let bin: string;

function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // `npm test` exports npm_config_* and npm_package_* of this project; the user's shell has none.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
  return { ...env, PATH: `${NODE_DIR}:${process.env.PATH ?? ''}`, ...extra };
}

function run(command: string, args: readonly string[], options: { cwd: string; stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult> {
  return outputOf(spawn(command, args, { cwd: options.cwd, env: cleanEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] }), options);
}

function installedPaysignal(args: readonly string[], options: { cwd?: string; stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return run(bin, args, { cwd: app, ...options });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !relative(dir, e.parentPath).split('/').includes('node_modules'))
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

/** Provider-native events for all five providers (the demo's traffic), with a broken line now and then. */
function sampleEvents(): string {
  const generator = createTrafficGenerator(11);
  const lines: string[] = [];
  for (let i = 0; i < 600; i++) {
    for (const event of generator.next(i / 600, Date.UTC(2026, 10, 16, 9) + i * 1000)) lines.push(JSON.stringify(event));
    if (i % 97 === 0) lines.push('{"provider":"kustom","http":{"status_code":"403"}}', 'not json');
  }
  return `${lines.join('\n')}\n`;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'paysignal-package-'));
  const packed = await run('npm', ['pack', '--pack-destination', work], { cwd: ROOT, timeoutMs: 60_000 });
  expect(packed.code, packed.stderr).toBe(0);
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  expect(tarball).toBe(`${PKG.name}-${PKG.version}.tgz`);
  app = join(work, 'app');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'paysignal-user', private: true, type: 'module' }));
  // Production dependencies only, from the npm cache when it has them (it does after `npm ci`).
  const install = await run('npm', ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', join(work, tarball!)], { cwd: app, timeoutMs: 90_000 });
  expect(install.code, install.stderr).toBe(0);
  installed = join(app, 'node_modules', PKG.name);
  bin = join(app, 'node_modules', '.bin', 'paysignal');
}, 150_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed package, installed into an empty folder', () => {
  it('carries the compiled code, its run-time files and nothing else', () => {
    const files = filesUnder(installed);
    // Provider folders' examples.yaml are test data (only the tests read them).
    const testData = (f: string): boolean => /^providers\/[^/]+\/examples\.yaml$/.test(f);
    const sourceAssets = filesUnder(join(ROOT, 'src')).filter((f) => !f.endsWith('.ts') && !testData(f));
    expect(files.filter((f) => testData(f.replace(/^dist\//, '')))).toEqual([]);
    const sourceModules = filesUnder(join(ROOT, 'src')).filter((f) => f.endsWith('.ts'));
    expect(sourceAssets.length).toBeGreaterThan(0);
    for (const asset of sourceAssets) expect(files).toContain(`dist/${asset}`);
    for (const module of sourceModules) {
      expect(files).toContain(`dist/${module.replace(/\.ts$/, '.js')}`);
      expect(files).toContain(`dist/${module.replace(/\.ts$/, '.d.ts')}`);
    }
    for (const rule of readdirSync(join(ROOT, 'rules')).filter((f) => f.endsWith('.yaml'))) expect(files).toContain(`rules/${rule}`);
    for (const board of readdirSync(join(ROOT, 'dashboards')).filter((f) => f.endsWith('.json'))) expect(files).toContain(`dashboards/${board}`);
    expect(files).toContain('native/mock-broker/launcher.c');
    expect(files).toContain('bin/paysignal.js');
    const outside = files.filter((f) => !/^(dist|rules|dashboards|native|bin)\//.test(f));
    expect(outside.sort()).toEqual(['README.md', 'package.json']);
    expect(files.filter((f) => /(^|\/)(src|test|tests|bench|examples)\//.test(f) || /\.ts$/.test(f.replace(/\.d\.ts$/, '')))).toEqual([]);
  });

  it('prints its version with --version and -v', async () => {
    for (const flag of ['--version', '-v']) {
      const result = await installedPaysignal([flag]);
      expect(result).toEqual({ code: 0, stdout: `${PKG.version}\n`, stderr: '' });
    }
  });

  it('classifies sample events exactly as the repository does, on worker threads and without', async () => {
    const events = join(app, 'events.ndjson');
    const input = sampleEvents();
    await writeFile(events, input);
    for (const workers of ['2', '0']) {
      const fromPackage = await installedPaysignal(['classify', events, '--workers', workers]);
      const fromRepository = await runPaysignal(['classify', events, '--workers', workers]);
      expect(fromPackage.code, fromPackage.stderr).toBe(0);
      expect(fromPackage.stdout.split('\n').length).toBe(input.split('\n').length);
      expect(fromPackage.stdout).toContain('"known":true');
      expect(fromPackage.stdout).toContain('"outcome":"invalid"');
      expect(fromPackage.stdout).toBe(fromRepository.stdout);
    }
    const example = await readFile(join(ROOT, 'examples', 'events.ndjson'), 'utf8');
    const fromStdin = await installedPaysignal(['classify', '-'], { stdin: example });
    expect(fromStdin.code).toBe(0);
    expect(fromStdin.stdout).toBe((await runPaysignal(['classify', '-'], { stdin: example })).stdout);
  });

  it('explains a provider code as the repository does', async () => {
    for (const args of [['explain', 'kustom', 'MERCHANT_INACTIVE'], ['explain', 'mercadopago', 'invalid_total_amount', '--json']]) {
      const [fromPackage, fromRepository] = await Promise.all([installedPaysignal(args), runPaysignal(args)]);
      expect(fromPackage.code, fromPackage.stderr).toBe(0);
      expect(fromPackage.stdout).toBe(fromRepository.stdout);
    }
    const unknown = await installedPaysignal(['explain', 'kustom', 'NO_SUCH_CODE']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('has no code "NO_SUCH_CODE"');
  });

  it('checks and compiles the shipped rules as the repository does', async () => {
    for (const args of [['rules', 'check', 'rules'], ['rules', 'compile', 'rules']]) {
      const [fromPackage, fromRepository] = await Promise.all([installedPaysignal(args, { cwd: installed }), runPaysignal(args)]);
      expect(fromPackage.code, fromPackage.stderr).toBe(0);
      expect(fromPackage.stdout).toBe(fromRepository.stdout);
    }
  });

  it('runs the service on worker threads: events from Kafka counted on /metrics with the shipped rules loaded, clean exit on SIGTERM', async () => {
    const kafka = await startTestKafka();
    try {
      const topic = await kafka.createTopic('package-run', 2);
      const port = await freePort();
      const service = startProcess(bin, ['run'], {
        cwd: app,
        env: cleanEnv({
          ...serviceEnv(kafka.bootstrapServers, { topic, group: `package-${topic}` }),
          KAFKA_FROM_BEGINNING: 'true',
          // A port chosen beforehand, not 0: the test reads /metrics of a process whose logs it does not parse.
          PAYSIGNAL_HTTP_PORT: String(port),
          PAYSIGNAL_RULES: join(installed, 'rules'),
          // Worker threads load their module next to the pool's: dist/ in the package.
          PAYSIGNAL_WORKERS: '2',
        }),
      });
      const events = makeEvents('package', 40);
      await kafka.produce(topic, events.map((e) => e.message));
      const counted = (metrics: string): number => metrics.split('\n').filter((l) => l.startsWith('paysignal_events_total{')).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
      const metrics = await waitFor('the installed service to count every event', async () => {
        const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '');
        return counted(text) === events.length ? text : undefined;
      }, 60_000, 250);
      expect(metrics).toContain('provider="kustom"');
      expect(await service.stop(15_000), service.output()).toBe(0);
      const output = service.output();
      expect(output).toContain('"msg":"alert rules loaded"');
      expect(output).not.toMatch(/ERR_|TypeError|Cannot find/);
    } finally {
      await kafka.stop();
    }
  }, 90_000);

  it("keeps the demo's compiled broker launcher in the user's cache directory, and says so when it cannot write there", async () => {
    const cache = join(work, 'user-cache');
    const build = `const { buildLauncher } = await import(${JSON.stringify(pathToFileURL(join(installed, 'dist', 'embedded-broker', 'index.js')).href)}); console.log(await buildLauncher());`;
    const built = await run(PROJECT_NODE, ['--input-type=module', '--eval', build], { cwd: app, env: { XDG_CACHE_HOME: cache }, timeoutMs: 60_000 });
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout.trim()).toMatch(new RegExp(`^${cache}/paysignal/mock-broker-[0-9a-f]+$`));
    expect(existsSync(join(installed, 'node_modules', '.cache'))).toBe(false);

    const notADirectory = join(work, 'events.ndjson');
    await writeFile(notADirectory, '');
    const demo = await installedPaysignal(['demo', '--duration', '1'], { env: { XDG_CACHE_HOME: notADirectory } });
    expect(demo.code).toBe(1);
    expect(demo.stderr).toContain(`EMBEDDED_BROKER_COMPILE_FAILED: cannot create ${notADirectory}/paysignal`);
    expect(demo.stderr).toContain('set XDG_CACHE_HOME to a directory you can write');
  });

  it('answers --help with examples, and an unknown command with exit code 2', async () => {
    const help = await installedPaysignal(['rules', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
    const unknown = await installedPaysignal(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
  });

  it('stops on an older Node with a message naming the version it needs and the one it found', async () => {
    const olderNode = 'Object.defineProperty(process, "version", { value: "v20.11.1" }); Object.defineProperty(process, "versions", { value: { ...process.versions, node: "20.11.1" } });';
    const result = await run(PROJECT_NODE, ['--import', `data:text/javascript,${encodeURIComponent(olderNode)}`, bin, '--version'], { cwd: app });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`needs Node.js ${PKG.engines.node.replace('>=', '')} or newer`);
    expect(result.stderr).toContain('v20.11.1');
  });
});

describe('the library entry point of the installed package', () => {
  it("runs the README's example with the same output as the repository's sources", async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Use as a library'));
    const example = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    expect(example).toContain("from 'paysignal'");
    await writeFile(join(app, 'example.mjs'), example!);
    // The same program against the repository's TypeScript sources (Node strips the types).
    await writeFile(join(work, 'example-from-sources.mjs'), example!.replace("from 'paysignal'", `from ${JSON.stringify(pathToFileURL(join(ROOT, 'src', 'index.ts')).href)}`));
    const stdin = await readFile(join(ROOT, 'examples', 'events.ndjson'), 'utf8');
    // The rule file names go into the compiled rules' header: the same relative path in both.
    const fromPackage = await run(PROJECT_NODE, [join(app, 'example.mjs'), 'rules'], { cwd: installed, stdin });
    const fromSources = await run(PROJECT_NODE, [join(work, 'example-from-sources.mjs'), 'rules'], { cwd: ROOT, stdin });
    expect(fromPackage.code, fromPackage.stderr).toBe(0);
    expect(fromPackage.stderr).toBe('');
    expect(fromPackage.stdout).toContain('error kustom MERCHANT_INACTIVE merchant_config contact_provider');
    expect(fromPackage.stdout).toContain('alert: MerchantInactiveSpike');
    expect(fromPackage.stdout).toBe(fromSources.stdout);
  });

  it('exposes only the entry point and package.json, and loads the built-in field mappings', async () => {
    const probe = `
      import { BUILT_IN_MAPPINGS, loadMapping, createClassifier, createDecoder, loadRules, compileRuleSet, PaysignalError } from 'paysignal';
      import pkg from 'paysignal/package.json' with { type: 'json' };
      const mappings = await Promise.all(BUILT_IN_MAPPINGS.map(async (name) => [name, (await loadMapping(name)) === null ? 'native' : 'mapped']));
      let internal;
      try { await import('paysignal/dist/cli/main.js'); internal = 'importable'; } catch (error) { internal = error.code; }
      const types = [createClassifier, createDecoder, loadRules, compileRuleSet, PaysignalError].map((f) => typeof f);
      console.log(JSON.stringify({ version: pkg.version, mappings, internal, types }));
    `;
    await writeFile(join(app, 'probe.mjs'), probe);
    const result = await run(PROJECT_NODE, ['probe.mjs'], { cwd: app });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      version: PKG.version,
      mappings: [['native', 'native'], ['ecs', 'mapped'], ['otel', 'mapped']],
      internal: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      types: ['function', 'function', 'function', 'function', 'function'],
    });
  });

  it('gives TypeScript users its types', async () => {
    const consumer = `
      import { createClassifier, createDecoder, type Classification, type RuleSet } from 'paysignal';
      const classifier = await createClassifier();
      const decoded = createDecoder({ idHeaders: classifier.idHeaders }).decode(new TextEncoder().encode('{}'));
      const classification: Classification | null = decoded.ok ? classifier.classify(decoded.event) : null;
      export const retry: string | null | undefined = classification?.retry;
      export const sets: RuleSet[] = [];
      // @ts-expect-error the classifier takes decoded events, not text
      classifier.classify('{"provider":"kustom"}');
    `;
    await writeFile(join(app, 'consumer.ts'), consumer);
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'es2024', lib: ['es2024'], module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] },
      files: ['consumer.ts'],
    }));
    const result = await run(PROJECT_NODE, [TSC, '-p', join(app, 'tsconfig.json')], { cwd: app });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(existsSync(join(installed, 'dist', 'index.d.ts'))).toBe(true);
  });
});
