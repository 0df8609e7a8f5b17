// The Dockerfile cannot be built here (no Docker engine), so these checks read it: the properties the
// chart relies on (Node 24, non-root numeric user, entrypoint), that the image installs the packed
// npm package like `npm install -g` does, and that everything it copies exists and is not excluded by
// .dockerignore. test/package/ runs that same tarball.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVICE_MALLOC_ENV, SERVICE_NODE_OPTIONS } from '../../src/service-node-options.ts';
import { ROOT } from '../support/cli.ts';

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l.length > 0 && !l.startsWith('#'));

function all(keyword: string): string[] {
  return instructions.filter((l) => l.toUpperCase().startsWith(`${keyword} `)).map((l) => l.slice(keyword.length + 1).trim());
}

describe('Dockerfile', () => {
  it('builds on node:24-slim in every stage', () => {
    expect(all('ARG')).toContain('NODE_IMAGE=node:24-slim');
    const froms = all('FROM');
    expect(froms.length).toBeGreaterThanOrEqual(1);
    for (const f of froms) expect(f).toMatch(/^\$\{NODE_IMAGE\}/);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(pkg.engines.node).toBe('>=24');
  });

  it('packs the repository with npm pack and installs that tarball globally, production dependencies only', () => {
    const runs = all('RUN').join('\n');
    expect(runs).toMatch(/npm ci --ignore-scripts/);
    expect(runs).toMatch(/node scripts\/build-package\.mjs\s+&& npm pack --ignore-scripts --pack-destination \/pkg/);
    expect(runs).toMatch(/npm install -g --omit=dev --ignore-scripts --no-audit --no-fund \/tmp\/paysignal\.tgz\s/);
    expect(all('COPY')).toContain('--from=pack /pkg/paysignal.tgz /tmp/paysignal.tgz');
    // The image never runs a source checkout: the runtime stage copies nothing from the context.
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).not.toMatch(/^COPY (?!--from=pack)/m);
  });

  it('copies everything the package build needs into the pack stage, and all of it exists', () => {
    const copies = all('COPY');
    for (const dir of ['bin', 'src', 'native', 'rules', 'dashboards']) {
      expect(copies).toContain(`${dir} ./${dir}`);
      expect(existsSync(join(ROOT, dir)), dir).toBe(true);
    }
    expect(copies).toContain('package.json package-lock.json ./');
    expect(copies).toContain('tsconfig.json tsconfig.build.json ./');
    expect(copies).toContain('scripts/build-package.mjs ./scripts/');
    for (const file of ['tsconfig.json', 'tsconfig.build.json', 'scripts/build-package.mjs', 'README.md']) expect(existsSync(join(ROOT, file)), file).toBe(true);
  });

  it('runs as the non-root node user (uid 1000, as the chart runAsUser) with the installed paysignal command', () => {
    const users = all('USER');
    expect(users.at(-1)).toBe('1000:1000');
    expect(all('ENTRYPOINT')).toEqual(['["paysignal"]']);
    expect(all('CMD')).toEqual(['["run"]']);
    expect(all('EXPOSE')).toEqual(['9464']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(Object.keys(pkg.bin)).toEqual(['paysignal']);
    const values = readFileSync(join(ROOT, 'helm', 'paysignal', 'values.yaml'), 'utf8');
    expect(values).toMatch(/runAsUser: 1000\n/);
  });

  it("ships the memory settings of src/service-node-options.ts: NODE_OPTIONS and glibc's malloc variables", () => {
    expect(all('ENV').join(' ')).toContain(`NODE_OPTIONS="${SERVICE_NODE_OPTIONS}"`);
    expect(Object.keys(SERVICE_MALLOC_ENV)).toEqual(['MALLOC_ARENA_MAX', 'MALLOC_MMAP_THRESHOLD_']);
    for (const [name, value] of Object.entries(SERVICE_MALLOC_ENV)) expect(all('ENV').join(' ')).toMatch(new RegExp(`(^|\\s)${name}=${value}(\\s|$)`));
  });

  it('does not turn the in-process alert engine on by itself (the chart decides)', () => {
    expect(dockerfile).not.toMatch(/^\s*(ENV|ARG)[^\n]*PAYSIGNAL_RULES=/m);
  });
});

describe('.dockerignore', () => {
  const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

  it('starts from nothing and lets in only what the image copies', () => {
    expect(lines[0]).toBe('*');
    const copied = all('COPY').filter((c) => !c.startsWith('--from')).flatMap((c) => c.split(' ').slice(0, -1));
    expect(lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, '')).sort()).toEqual([...copied].sort());
    expect(lines).toContain('**/node_modules');
  });
});
