// What every provider folder must satisfy, as problems (empty when the folder is fine). The generic
// catalog test runs it over every folder the registry finds, and over a broken folder to show that it
// fails.
import { join } from 'node:path';
import type { CatalogEntry } from '../../src/classify/classification.ts';
import type { Classifier } from '../../src/classify/classifier.ts';
import { formatClassification } from '../../src/cli/classify/output.ts';
import { PaysignalError } from '../../src/errors.ts';
import { createDecoder } from '../../src/events/decode.ts';
import { loadExamples, type ExpectedClassification, type ProviderExample } from '../../src/providers/examples.ts';

const EXPECTED_KEYS = ['outcome', 'operation', 'code', 'category', 'retry', 'known', 'field', 'correlation_id'] as const;

export interface ExampleResult {
  readonly example: ProviderExample;
  /** The example's keys of the `paysignal classify` output line; null when the decoder rejected the event. */
  readonly actual: ExpectedClassification | null;
  readonly rejection: string | null;
  /** The catalog entry the classifier matched. */
  readonly entry: CatalogEntry | null;
}

/** Runs the examples of `folder` below `dir` through the decoder and classifier, as `paysignal classify` does. */
export async function runExamples(dir: string, folder: string, classifier: Classifier): Promise<ExampleResult[]> {
  const examples = await loadExamples(join(dir, folder));
  const decoder = createDecoder({ idHeaders: classifier.idHeaders });
  return examples.map((example) => {
    const decoded = decoder.decode(Buffer.from(JSON.stringify(example.event)));
    if (!decoded.ok) return { example, actual: null, rejection: `${decoded.rejection.reason}: ${decoded.rejection.detail}`, entry: null };
    const classification = classifier.classify(decoded.event);
    const line = JSON.parse(formatClassification(classification)) as Record<string, unknown>;
    const actual = Object.fromEntries(EXPECTED_KEYS.map((k) => [k, line[k]])) as unknown as ExpectedClassification;
    return { example, actual, rejection: null, entry: classification.entry };
  });
}

/** Catalog entries that no example matched, per operation the entry documents (or at all). */
export function uncoveredEntries(entries: readonly CatalogEntry[], results: readonly ExampleResult[]): string[] {
  const missing: string[] = [];
  for (const entry of entries) {
    const hits = results.filter((r) => r.entry === entry);
    const label = `${entry.code}${entry.status === null ? '' : ` (${entry.status})`}${entry.messagePattern ? ` /${entry.messagePattern.source}/` : ''}`;
    if (entry.operations === null) {
      if (hits.length === 0) missing.push(label);
      continue;
    }
    for (const operation of entry.operations) {
      if (!hits.some((r) => r.actual?.operation === operation)) missing.push(`${label} on ${operation}`);
    }
  }
  return missing;
}

/** Everything wrong with one provider folder: missing examples, examples that classify otherwise, uncovered entries. */
export async function folderProblems(dir: string, folder: string, classifier: Classifier): Promise<string[]> {
  let results: ExampleResult[];
  try {
    results = await runExamples(dir, folder, classifier);
  } catch (error) {
    return [`${folder}: ${error instanceof PaysignalError ? error.describe() : (error as Error).message}`];
  }
  const problems: string[] = [];
  for (const r of results) {
    if (r.actual === null) problems.push(`${folder}: example "${r.example.name}" is rejected by the decoder (${r.rejection})`);
    else {
      const actual = r.actual;
      const differing = EXPECTED_KEYS.filter((k) => actual[k] !== r.example.expect[k]);
      const shown = differing.map((k) => `${k} ${JSON.stringify(actual[k])} (expected ${JSON.stringify(r.example.expect[k])})`);
      if (differing.length > 0) problems.push(`${folder}: example "${r.example.name}" (line ${r.example.line}) classifies with ${shown.join(', ')}`);
    }
  }
  const catalog = classifier.catalogs.get(folder);
  if (catalog === undefined) problems.push(`${folder}: no catalog`);
  else for (const missing of uncoveredEntries(catalog.entries, results)) problems.push(`${folder}: no example exercises catalog entry ${missing}`);
  return problems;
}
