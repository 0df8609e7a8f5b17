#!/usr/bin/env node
// `npm run build` (and `prepack`): compiles src/ to JavaScript with declarations in dist/, for the
// published package. Development runs the TypeScript sources directly and never needs this.
//
// The compiler only emits what it compiles (and the JSON modules it imports), so every other file
// under src/ that the code reads at run time (provider catalogs, field mappings, JSON Schemas, and
// whatever is added later) is copied next to its compiled module: code that finds a file relative to
// import.meta.url finds it in dist/ exactly where it was in src/.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');
const require = createRequire(import.meta.url);
const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');

// Tests, test data and TypeScript sources never go into the package; directories are walked. Test
// data kept in src/: each provider folder's examples.yaml, which only the tests read (docs/providers.md).
const TEST_ONLY = [/\.[cm]?ts$/, /\.test\.[^/]+$/, /(^|\/)__tests__(\/|$)/, /(^|\/)providers\/[^/]+\/examples\.yaml$/];
const isRunTimeAsset = (path) => statSync(path).isDirectory() || !TEST_ONLY.some((pattern) => pattern.test(path));

rmSync(dist, { recursive: true, force: true });
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (compiled.status !== 0) {
  process.stderr.write(`paysignal build: the TypeScript compiler failed (exit ${compiled.status ?? compiled.signal}); nothing was packed.\n`);
  process.exit(1);
}
cpSync(src, dist, { recursive: true, filter: isRunTimeAsset });
