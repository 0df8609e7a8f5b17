// A provider folder's example events (examples.yaml, see examples.schema.json): real-looking calls
// built from the provider's seed, each with the classification paysignal must give it. Nothing at
// runtime reads them; the catalog tests run every folder's examples.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorAt, PaysignalError, schemaError, yamlSyntaxError } from '../errors.ts';
import { compileSchema } from '../kernel/schema.ts';
import { parseYamlSource } from '../kernel/yaml.ts';
import examplesSchema from './examples.schema.json' with { type: 'json' };

export const EXAMPLES_FILE = 'examples.yaml';

/** The keys of `paysignal classify` output an example fixes. */
export interface ExpectedClassification {
  outcome: 'success' | 'error';
  operation: string | null;
  code: string | null;
  category: string | null;
  retry: string | null;
  known: boolean;
  field: string | null;
  correlation_id: string | null;
}

export interface ProviderExample {
  readonly name: string;
  readonly event: Record<string, unknown>;
  readonly expect: ExpectedClassification;
  /** 1-based line of the example in its file, for messages. */
  readonly line: number | null;
}

interface ExamplesFile {
  examples: { name: string; event: Record<string, unknown>; expect: ExpectedClassification }[];
}

const validateExamples = compileSchema<ExamplesFile>(examplesSchema);

/** The examples of the provider folder `folder`; a missing or invalid file is an error naming it. */
export async function loadExamples(folder: string): Promise<readonly ProviderExample[]> {
  const file = join(folder, EXAMPLES_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PaysignalError('CATALOG_NOT_FOUND', `cannot read provider examples: ${(error as Error).message}; every provider folder carries examples built from its seed (docs/providers.md)`, { file, cause: error });
  }
  const source = parseYamlSource(text, file);
  const syntax = yamlSyntaxError('CATALOG_INVALID', source);
  if (syntax) throw syntax;
  const problem = validateExamples(source.data);
  if (problem) throw schemaError('CATALOG_INVALID', source, problem);
  const seen = new Set<string>();
  return (source.data as ExamplesFile).examples.map((example, i) => {
    if (seen.has(example.name)) {
      throw errorAt('CATALOG_INVALID', source, ['examples', i, 'name'], `example name "${example.name}" is used twice`, `examples[${i}].name`);
    }
    seen.add(example.name);
    return { ...example, line: source.positionOf(['examples', i]).line ?? null };
  });
}
