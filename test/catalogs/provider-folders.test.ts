// Every provider folder the registry finds is checked the same way, so a new provider is covered by
// adding its folder, without touching a test: it has a catalog and examples built from its seed,
// every example classifies as it says (the `paysignal classify` keys), every catalog entry is
// exercised by an example on each operation it documents, and every entry says what to do.
// The seed tables that test/catalogs/seed-coverage.test.ts listed by hand for five providers are now
// these examples, in each provider's folder (every row is an example with the seed's status and the
// verdict docs/architecture.md#taxonomy fixes).
import { afterAll, describe, expect, it } from 'vitest';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClassifier } from '../../src/classify/classifier.ts';
import { GENERIC_PROVIDER, PROVIDERS_DIR, providerFolders } from '../../src/providers/registry.ts';
import { ROOT } from '../support/cli.ts';
import { folderProblems, runExamples } from './provider-folders.ts';

const classifier = await createClassifier();
const folders = await providerFolders();

describe('provider folders', () => {
  it('are found by the registry: the seed providers and the generic fallback at least', () => {
    expect(folders).toEqual(expect.arrayContaining([GENERIC_PROVIDER, 'mercadopago', 'kustom', 'setel', 'digitalriver', 'stablegenius']));
    expect([...classifier.catalogs.keys()]).toEqual([...folders]);
  });

  describe.each(folders)('%s', (folder) => {
    it('has a catalog and examples; every example classifies as it says and every catalog entry is exercised', async () => {
      expect(await folderProblems(PROVIDERS_DIR, folder, classifier)).toEqual([]);
    });

    it('has examples of its own provider (the generic fallback: of providers without a catalog)', async () => {
      const results = await runExamples(PROVIDERS_DIR, folder, classifier);
      expect(results.length).toBeGreaterThan(0);
      for (const { example } of results) {
        const provider = String(example.event.provider);
        if (folder === GENERIC_PROVIDER) expect(classifier.catalogs.has(provider), example.name).toBe(false);
        else expect(provider, example.name).toBe(folder);
      }
    });

    it('names its seed, and every entry names the provider and says what to do', () => {
      const catalog = classifier.catalogs.get(folder)!;
      expect(catalog.seed.trim()).not.toBe('');
      for (const e of catalog.entries) {
        expect(e.provider, e.code).toBe(folder);
        expect(e.summary.trim(), `${e.code} summary`).not.toBe('');
        expect(e.remediation.trim(), `${e.code} remediation`).not.toBe('');
      }
    });
  });
});

const dir = await mkdtemp(join(tmpdir(), 'paysignal-provider-folders-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the walk-through in docs/providers.md', () => {
  it('is a working provider: its catalog loads, and its example classifies as it says', async () => {
    const guide = await readFile(join(ROOT, 'docs', 'providers.md'), 'utf8');
    const [catalogYaml, examplesYaml] = [...guide.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const providers = join(dir, 'guide');
    await cp(join(PROVIDERS_DIR, GENERIC_PROVIDER), join(providers, GENERIC_PROVIDER), { recursive: true });
    await mkdir(join(providers, 'acme'));
    await writeFile(join(providers, 'acme', 'catalog.yaml'), catalogYaml!);
    await writeFile(join(providers, 'acme', 'examples.yaml'), examplesYaml!);
    const withAcme = await createClassifier(providers);
    expect(withAcme.idHeaders.has('acme-request-id')).toBe(true);
    expect(await folderProblems(providers, 'acme', withAcme)).toEqual([]);
  });
});

describe('the folder check fails', () => {
  it('for a provider folder without examples', async () => {
    await cp(join(PROVIDERS_DIR, 'stablegenius', 'catalog.yaml'), join(dir, 'stablegenius', 'catalog.yaml'), { recursive: true });
    const problems = await folderProblems(dir, 'stablegenius', classifier);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^stablegenius: \S*examples\.yaml: CATALOG_NOT_FOUND cannot read provider examples: .*every provider folder carries examples/);
  });

  it('for examples that break the schema or repeat a name, naming the file and line', async () => {
    await cp(join(PROVIDERS_DIR, 'setel'), join(dir, 'setel'), { recursive: true });
    const file = join(dir, 'setel', 'examples.yaml');
    const text = await readFile(file, 'utf8');
    const [head, first] = text.split(/\n(?=- name: )/);
    await writeFile(file, `${head}\n${first}\n${first}\n`);
    expect(await folderProblems(dir, 'setel', classifier)).toEqual([expect.stringMatching(/^setel: \S*examples\.yaml:\d+:\d+: CATALOG_INVALID examples\[1\]\.name: example name ".*" is used twice$/)]);
    await writeFile(file, `${head}\n- name: no expectation\n  event: { timestamp: 1, provider: setel }\n`);
    expect(await folderProblems(dir, 'setel', classifier)).toEqual([expect.stringMatching(/^setel: \S*examples\.yaml:\d+:\d+: CATALOG_INVALID .*expect/)]);
  });

  it('for an example that classifies otherwise, and for a catalog entry no example exercises', async () => {
    await cp(join(PROVIDERS_DIR, 'kustom'), join(dir, 'kustom'), { recursive: true });
    const file = join(dir, 'kustom', 'examples.yaml');
    const text = await readFile(file, 'utf8');
    // Drop every REJECTED example and claim the first example's call is a success.
    const kept = text.split(/\n(?=- name: )/).filter((block) => !block.includes('error_code: REJECTED'));
    await writeFile(file, kept.join('\n').replace('outcome: error', 'outcome: success'));
    const problems = await folderProblems(dir, 'kustom', classifier);
    expect(problems.some((p) => /classifies with outcome "error" \(expected "success"\)/.test(p)), problems.join('\n')).toBe(true);
    expect(problems).toContain('kustom: no example exercises catalog entry REJECTED (403)');
  });
});
