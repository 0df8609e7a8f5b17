// `paysignal report`: the weekly error-trend report (docs/architecture.md#cli-and-configuration), from Prometheus or log files.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { createClassifier } from '../../classify/classifier.ts';
import { trackerHeapWarning } from '../../classify/correlation.ts';
import { loadConfig } from '../../config/config.ts';
import { loadMapping } from '../../events/mapping.ts';
import { PaysignalError, usageError } from '../../errors.ts';
import { renderMarkdown } from '../../report/markdown.ts';
import { createReport, FORMATS, render, type ReportFormat, type SourceOptions } from '../../report/report.ts';
import { postToWebhook } from '../../report/webhook.ts';
import { lastCompleteWeek, parseIsoWeek } from '../../report/week.ts';

export const REPORT_USAGE = `Usage: paysignal report --source prometheus|logs [--week YYYY-Www|last] [options] [FILE...]

The weekly error-trend report for one ISO week (UTC, Monday 00:00 to the next Monday), compared
with the week before: calls, errors and error ratio, errors per provider and day, top movers, new
codes, categories and retry decisions, retry violations, retries and retry storms, alerts fired, and
what to fix first.

Options:
  --config FILE            the paysignal configuration (default $PAYSIGNAL_CONFIG): its report section
                           gives the Prometheus URL and format, its input section the log mapping, its
                           correlation section (max_keys, ttl, storm_threshold) how log events are tied
                           into retries, as in paysignal run
  --week YYYY-Www          the ISO week, e.g. 2026-W47; "last" (the default) is the last complete week
  --source prometheus|logs where the numbers come from
  --prometheus-url URL     Prometheus base URL (default report.prometheus_url, $PROMETHEUS_URL,
                           else http://127.0.0.1:9090)
  --timeout SECONDS        per Prometheus or webhook request (default 30)
  FILE...                  NDJSON event files for --source logs (- for standard input, .gz gunzipped),
                           in time order: an event read after events more than correlation.ttl newer
                           is not tied to its earlier attempts
  --mapping NAME|FILE      field mapping for log files: native, ecs, otel, or a file (default input.mapping)
  --format md|html|json    Markdown, one self-contained HTML file with charts, or the model (default
                           report.format, else md)
  --out FILE               write the report to FILE ({week} is replaced by the week) instead of stdout
  --webhook URL            also POST the Markdown as {"text": ...} (Slack/Mattermost incoming webhook)
  --top N                  rows in top movers and what-to-fix-first (default 10)

Flags win over the environment (PROMETHEUS_URL), which wins over the configuration file.

Examples:
  paysignal report --source prometheus --prometheus-url http://prometheus:9090
  paysignal report --config paysignal.yaml --source prometheus
  paysignal report --source logs --week 2026-W47 --format html --out report-{week}.html events/*.ndjson.gz

Exit codes: 0 done, 1 the source or the webhook failed, 2 usage error (a bad flag or configuration file).`;

function positiveNumber(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw usageError(`${name} must be a positive number, got "${text}"`, name);
  return n;
}

export async function reportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      week: { type: 'string' },
      source: { type: 'string' },
      'prometheus-url': { type: 'string' },
      timeout: { type: 'string' },
      mapping: { type: 'string' },
      format: { type: 'string' },
      out: { type: 'string' },
      webhook: { type: 'string' },
      top: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${REPORT_USAGE}\n`);
    return 0;
  }
  const config = loadConfig({ file: values.config, env: process.env });
  const week = values.week === undefined ? lastCompleteWeek(Date.now()) : parseIsoWeek(values.week);
  const format = (values.format ?? config.report.format) as ReportFormat;
  if (!FORMATS.includes(format)) throw usageError(`--format must be one of ${FORMATS.join(', ')}, got "${values.format}"`, '--format');
  const timeoutMs = positiveNumber(values.timeout, '--timeout', 30) * 1000;
  const top = Math.floor(positiveNumber(values.top, '--top', 10));

  let source: SourceOptions;
  if (values.source === 'prometheus') {
    if (positionals.length > 0) throw usageError(`--source prometheus takes no FILE arguments (got ${positionals.join(' ')})`);
    source = { kind: 'prometheus', url: values['prometheus-url'] ?? config.report.prometheus_url, timeoutMs };
  } else if (values.source === 'logs') {
    if (positionals.length === 0) throw usageError(`--source logs needs at least one FILE (or - for standard input)\n${REPORT_USAGE}`);
    source = {
      kind: 'logs',
      files: positionals,
      mapping: await loadMapping(values.mapping ?? config.input.mapping),
      maxEventBytes: config.input.max_event_bytes,
      correlation: config.correlation,
    };
    // The logs report holds the correlation store on this thread, as `paysignal run` without workers
    // does: a max_keys sized for many workers' stores together can outgrow this one heap.
    const warning = trackerHeapWarning(config.correlation.max_keys, getHeapStatistics().heap_size_limit, 'main thread');
    if (warning !== null) process.stderr.write(`paysignal report: warning: ${warning}\n`);
  } else {
    throw usageError(`--source must be prometheus or logs, got ${values.source === undefined ? 'nothing' : `"${values.source}"`}\n${REPORT_USAGE}`, '--source');
  }

  const classifier = await createClassifier();
  const model = await createReport(week, source, classifier, top);
  const text = render(model, format);

  if (values.out !== undefined) {
    const file = values.out.replaceAll('{week}', week.label);
    try {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, text);
    } catch (error) {
      throw new PaysignalError('OUTPUT_NOT_WRITABLE', `cannot write the report: ${(error as Error).message}`, { file });
    }
    process.stderr.write(`paysignal report: wrote ${week.label} (${format}) to ${file}\n`);
  }
  if (values.webhook !== undefined) {
    await postToWebhook(values.webhook, format === 'md' ? text : renderMarkdown(model), timeoutMs);
    process.stderr.write(`paysignal report: posted ${week.label} to the webhook at ${new URL(values.webhook).origin}\n`);
  }
  if (values.out === undefined && values.webhook === undefined) process.stdout.write(text);
  return 0;
}
