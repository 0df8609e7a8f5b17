// Finds and loads every provider catalog: one folder per provider under src/providers, each with a
// catalog.yaml (and an examples.yaml that only the tests read; docs/providers.md). Folders whose
// names start with `_` hold fallbacks (the generic extractor for providers without a catalog).
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PaysignalError, schemaError, yamlSyntaxError } from '../errors.ts';
import { compileSchema } from '../kernel/schema.ts';
import { parseYamlSource } from '../kernel/yaml.ts';
import { compileCatalog, type CatalogFile, type ProviderCatalog } from './catalog.ts';
import catalogSchema from './catalog.schema.json' with { type: 'json' };

export type { ProviderCatalog } from './catalog.ts';

export const PROVIDERS_DIR = dirname(fileURLToPath(import.meta.url));
export const GENERIC_PROVIDER = '_generic';

const validateCatalog = compileSchema<CatalogFile>(catalogSchema);

export async function loadCatalogFile(file: string): Promise<ProviderCatalog> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PaysignalError('CATALOG_NOT_FOUND', `cannot read provider catalog: ${(error as Error).message}`, { file, cause: error });
  }
  const source = parseYamlSource(text, file);
  const syntax = yamlSyntaxError('CATALOG_INVALID', source);
  if (syntax) throw syntax;
  const problem = validateCatalog(source.data);
  if (problem) throw schemaError('CATALOG_INVALID', source, problem);
  return compileCatalog(source.data as CatalogFile, source);
}

/** The provider folders below `dir`, sorted: every sub-folder is one provider (or a `_` fallback). */
export async function providerFolders(dir: string = PROVIDERS_DIR): Promise<readonly string[]> {
  return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
}

/**
 * Every catalog below `dir`, keyed by provider id (fallbacks keyed by their folder name).
 * A folder's name must equal the catalog's `provider`, so the layout cannot lie about the data.
 */
export async function loadCatalogs(dir: string = PROVIDERS_DIR): Promise<ReadonlyMap<string, ProviderCatalog>> {
  const folders = await providerFolders(dir);
  const catalogs = new Map<string, ProviderCatalog>();
  for (const folder of folders) {
    const file = join(dir, folder, 'catalog.yaml');
    const catalog = await loadCatalogFile(file);
    if (catalog.provider !== folder) {
      throw new PaysignalError('CATALOG_INVALID', `provider "${catalog.provider}" does not match its folder "${folder}"`, { file, field: 'provider' });
    }
    catalogs.set(folder, catalog);
  }
  return catalogs;
}
