// One version everywhere: what `npm install -g paysignal@X` installs, the image the Dockerfile builds
// from that package, and the image the Helm chart runs by default, are all paysignal X.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { ROOT, runPaysignal } from '../support/cli.ts';
import { CHART_DIR, helm } from '../support/helm.ts';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('the version', () => {
  it('is the Helm chart appVersion, and the chart runs the image tagged with it by default', async () => {
    const chart = parse(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    expect(chart.appVersion).toBe(VERSION);
    const values = parse(readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8')) as { image: { repository: string; tag: string } };
    expect(['', VERSION]).toContain(values.image.tag);
    const rendered = await helm(['template', 'ps', CHART_DIR]);
    expect(rendered.code, rendered.stderr).toBe(0);
    const deployment = parseAllDocuments(rendered.stdout).map((d) => d.toJS()).find((d) => d?.kind === 'Deployment');
    expect(deployment.spec.template.spec.containers[0].image).toBe(`${values.image.repository}:${VERSION}`);
  });

  it('is what `paysignal --version` prints', async () => {
    expect(await runPaysignal(['--version'])).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('tags the image in the Dockerfile and README build examples', () => {
    for (const file of ['Dockerfile', 'README.md']) {
      const tags = [...readFileSync(join(ROOT, file), 'utf8').matchAll(/docker (?:build -t|run --rm(?: -[a-z] \S+)*) paysignal:(\S+)/g)].map((m) => m[1]);
      expect(tags.length, file).toBeGreaterThan(0);
      expect(new Set(tags), file).toEqual(new Set([VERSION]));
    }
  });
});
