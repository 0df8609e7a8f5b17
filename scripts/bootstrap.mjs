#!/usr/bin/env node
// Runs before `npm test`, `npm run demo` and the benchmarks, on whatever Node the machine has
// (often an older system Node), so it is plain JavaScript with no dependencies.
// It installs what the project needs on first run and otherwise names exactly what is missing.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const profile = process.argv[2] ?? 'test';

// What each command needs from the operating system: a file that proves it is there, and the
// Debian package that provides it.
const SYSTEM_NEEDS = {
  cc: { probe: ['cc'], pkg: 'gcc', why: 'compiles the test Kafka broker launcher' },
  librdkafka: { file: '/usr/include/librdkafka/rdkafka_mock.h', pkg: 'librdkafka-dev', why: 'Kafka-protocol mock cluster for the embedded broker' },
  pkgconfig: { probe: ['pkg-config'], pkg: 'pkg-config', why: 'finds librdkafka when compiling the broker launcher' },
  prometheus: { probe: ['prometheus', 'promtool'], pkg: 'prometheus', why: 'real Prometheus and promtool in integration tests' },
  alertmanager: { probe: ['prometheus-alertmanager'], pkg: 'prometheus-alertmanager', why: 'real Alertmanager in integration tests' },
  mtail: { probe: ['mtail'], pkg: 'mtail', why: 'peer in the classify benchmark' },
  chromium: { probe: ['chromium'], pkg: 'chromium', why: 'headless browser that opens the HTML weekly report in tests' },
};
const PROFILES = {
  test: ['cc', 'pkgconfig', 'librdkafka', 'prometheus', 'alertmanager', 'chromium'],
  demo: ['cc', 'pkgconfig', 'librdkafka'],
  bench: ['cc', 'pkgconfig', 'librdkafka', 'prometheus', 'alertmanager', 'mtail'],
  npm: [],
};

function fail(message) {
  process.stderr.write(`paysignal setup: ${message}\n`);
  process.exit(1);
}

function onPath(cmd) {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function isPresent(need) {
  if (need.file && !existsSync(need.file)) return false;
  if (need.probe && !need.probe.every(onPath)) return false;
  return true;
}

function ensureNpmPackages() {
  const lock = join(root, 'package-lock.json');
  if (!existsSync(lock)) fail('package-lock.json is missing; run this from a clone of the paysignal repository.');
  const stamp = join(root, 'node_modules', '.paysignal-lock-hash');
  const hash = createHash('sha256').update(readFileSync(lock)).digest('hex');
  const nodeBin = join(root, 'node_modules', '.bin', 'node');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash && existsSync(nodeBin)) return;
  process.stderr.write('paysignal setup: installing npm packages (npm ci) ...\n');
  const npm = process.env.npm_execpath
    ? [process.execPath, [process.env.npm_execpath]]
    : ['npm', []];
  const result = spawnSync(npm[0], [...npm[1], 'ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) fail('`npm ci` failed (see above). It needs the npm registry to be reachable.');
  if (!existsSync(nodeBin)) fail('npm ci finished but node_modules/.bin/node (Node 24 from the `node` devDependency) is missing.');
  writeFileSync(stamp, hash);
}

function ensureNode24() {
  const nodeBin = join(root, 'node_modules', '.bin', 'node');
  const version = execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim();
  if (!version.startsWith('v24.')) fail(`node_modules/.bin/node is ${version}; paysignal needs Node 24 LTS. Run \`npm ci\` again.`);
}

function ensureSystemPackages(names) {
  const missing = names.filter((n) => !isPresent(SYSTEM_NEEDS[n]));
  if (missing.length === 0) return;
  const pkgs = [...new Set(missing.map((n) => SYSTEM_NEEDS[n].pkg))];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !onPath('apt-get')) {
    const lines = missing.map((n) => `  - ${SYSTEM_NEEDS[n].pkg}: ${SYSTEM_NEEDS[n].why}`).join('\n');
    fail(`missing system packages:\n${lines}\nInstall them with: sudo apt-get install -y ${pkgs.join(' ')}`);
  }
  process.stderr.write(`paysignal setup: installing Debian packages: ${pkgs.join(' ')} ...\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
  if (update.status !== 0) fail('`apt-get update` failed; the Debian package archive must be reachable.');
  const install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
  if (install.status !== 0) fail(`\`apt-get install ${pkgs.join(' ')}\` failed (see above).`);
  const still = missing.filter((n) => !isPresent(SYSTEM_NEEDS[n]));
  if (still.length > 0) fail(`still missing after apt-get: ${still.map((n) => SYSTEM_NEEDS[n].pkg).join(', ')}`);
}

if (!PROFILES[profile]) fail(`unknown setup profile "${profile}" (expected ${Object.keys(PROFILES).join(', ')})`);
ensureNpmPackages();
ensureNode24();
ensureSystemPackages(PROFILES[profile]);
