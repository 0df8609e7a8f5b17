// `paysignal explain PROVIDER CODE`: the catalog entry and what to do, for a person on call.
import { parseArgs } from 'node:util';
import { createClassifier } from '../../classify/classifier.ts';
import type { CatalogEntry } from '../../classify/classification.ts';
import type { ProviderCatalog } from '../../providers/registry.ts';
import { usageError } from '../../errors.ts';

export const EXPLAIN_USAGE = `Usage: paysignal explain PROVIDER CODE [--json]

Shows what a provider's error code means: category, retry decision, who must act, and what to do.
--json prints the catalog entries as JSON.

Examples:
  paysignal explain kustom MERCHANT_INACTIVE
  paysignal explain mercadopago invalid_total_amount --json

Exit codes: 0 explained, 1 unknown provider or code (close matches are suggested), 2 usage error.`;

const RETRY_MEANING: Record<string, string> = {
  retry_with_backoff: 'retry with exponential backoff, honouring Retry-After / X-RateLimit-Reset',
  retry_same_key_later: 'retry later with the same idempotency key (safe: the provider deduplicates it)',
  reconcile_before_retry: 'read the resource first: the operation may have happened',
  fix_and_resubmit: 'fix the request, then send it again',
  new_checkout: 'start a new order, session or checkout; this one cannot be reused',
  reauthenticate: 'fix or refresh the credentials, then retry',
  contact_provider: 'the merchant account or provider must change something; retrying will not help',
  do_not_retry: 'do not send this request again',
};

function describeEntry(catalog: ProviderCatalog, entry: CatalogEntry): string {
  const status = entry.status === null ? 'HTTP status not documented' : `HTTP ${entry.status}`;
  const lines = [
    `${catalog.provider} ${entry.code}${entry.name ? ` (${entry.name})` : ''} — ${entry.summary}`,
    `  status:     ${status}`,
    `  operations: ${entry.operations ? entry.operations.join(', ') : 'any'}`,
  ];
  if (entry.messagePattern) lines.push(`  applies when the message matches /${entry.messagePattern.source}/i`);
  if (entry.message) lines.push(`  message:    ${entry.message}`);
  lines.push(
    `  category:   ${entry.category}`,
    `  retry:      ${entry.retry} — ${RETRY_MEANING[entry.retry]}`,
    `  owner:      ${entry.owner}`,
    `  what to do: ${entry.remediation}`,
    `  source:     ${catalog.displayName}${catalog.docs ? `, ${catalog.docs}` : ''} (seed ${catalog.seed})`,
  );
  return lines.join('\n');
}

function closest(codes: Iterable<string>, wanted: string): string[] {
  const w = wanted.toLowerCase();
  return [...codes].filter((c) => {
    const l = c.toLowerCase();
    return l.includes(w) || w.includes(l) || (w.length >= 4 && l.startsWith(w.slice(0, 4)));
  }).slice(0, 5);
}

export async function explainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(`${EXPLAIN_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 2) throw usageError(`explain takes PROVIDER and CODE\n${EXPLAIN_USAGE}`);
  const [provider, code] = positionals as [string, string];
  const classifier = await createClassifier();
  const catalog = classifier.catalogs.get(provider.toLowerCase());
  const known = [...classifier.catalogs.keys()].filter((k) => !k.startsWith('_'));
  if (!catalog || provider.startsWith('_')) {
    process.stderr.write(`paysignal: no catalog for provider "${provider}" (catalogs: ${known.join(', ')}).\n` +
      'Errors from providers without a catalog are classified by HTTP status alone.\n');
    return 1;
  }
  const entries = classifier.explain(provider, code);
  if (entries.length === 0) {
    const typeVerdict = catalog.typeFallback.get(code);
    if (typeVerdict) {
      const text = `${catalog.provider} error type ${code}\n  category:   ${typeVerdict.category}\n  retry:      ${typeVerdict.retry} — ${RETRY_MEANING[typeVerdict.retry]}\n` +
        (typeVerdict.remediation ? `  what to do: ${typeVerdict.remediation}\n` : '');
      process.stdout.write(values.json ? `${JSON.stringify({ provider: catalog.provider, type: code, ...typeVerdict })}\n` : text);
      return 0;
    }
    const near = closest(catalog.byCode.keys(), code);
    process.stderr.write(`paysignal: ${catalog.provider} has no code "${code}" in its catalog.` +
      (near.length > 0 ? ` Did you mean: ${near.join(', ')}?` : '') +
      `\nAn unknown ${catalog.provider} code is classified by the provider's rules, its error type, or the HTTP status.\n`);
    return 1;
  }
  if (values.json) {
    const json = entries.map((e) => ({ ...e, messagePattern: e.messagePattern?.source ?? null }));
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    process.stdout.write(`${entries.map((e) => describeEntry(catalog, e)).join('\n\n')}\n`);
  }
  return 0;
}
