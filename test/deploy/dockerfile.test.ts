// The Dockerfile cannot be built here (no Docker engine), so these checks read it: the properties the
// chart relies on (Node 24, non-root numeric user, entrypoint, production dependencies only) and that
// everything it copies exists and is not excluded by .dockerignore.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVICE_NODE_OPTIONS } from '../../src/service-node-options.ts';
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

  it('installs exactly the locked production dependencies', () => {
    const runs = all('RUN').join('\n');
    expect(runs).toMatch(/npm ci --omit=dev/);
    expect(all('COPY')).toContain('package.json package-lock.json ./');
  });

  it('copies bin, src, rules and dashboards, and all of them exist', () => {
    const copies = all('COPY');
    for (const dir of ['bin', 'src', 'rules', 'dashboards']) {
      expect(copies).toContain(`${dir} ./${dir}`);
      expect(existsSync(join(ROOT, dir)), dir).toBe(true);
    }
  });

  it('runs as the non-root node user (uid 1000, as the chart runAsUser) with the paysignal entrypoint', () => {
    const users = all('USER');
    expect(users.at(-1)).toBe('1000:1000');
    expect(all('ENTRYPOINT')).toEqual(['["node", "bin/paysignal.js"]']);
    expect(all('CMD')).toEqual(['["run"]']);
    expect(all('EXPOSE')).toEqual(['9464']);
    expect(existsSync(join(ROOT, 'bin', 'paysignal.js'))).toBe(true);
    const values = readFileSync(join(ROOT, 'helm', 'paysignal', 'values.yaml'), 'utf8');
    expect(values).toMatch(/runAsUser: 1000\n/);
  });

  it('ships the V8 heap settings of src/service-node-options.ts as NODE_OPTIONS', () => {
    expect(all('ENV').join(' ')).toContain(`NODE_OPTIONS="${SERVICE_NODE_OPTIONS}"`);
  });

  it('does not turn the in-process alert engine on by itself (the chart decides)', () => {
    expect(dockerfile).not.toMatch(/^\s*(ENV|ARG)[^\n]*PAYSIGNAL_RULES=/m);
  });
});

describe('.dockerignore', () => {
  const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

  it('starts from nothing and lets in only what the image copies', () => {
    expect(lines[0]).toBe('*');
    expect(lines.filter((l) => l.startsWith('!')).sort()).toEqual(['!bin/', '!dashboards/', '!package-lock.json', '!package.json', '!rules/', '!src/']);
    expect(lines).toContain('**/node_modules');
  });
});
