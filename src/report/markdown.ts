// The report as Markdown (GitHub-flavoured tables), for chat and e-mail.
import { changeText, count, hourText, percentChange, ratio, ratioChangeText, RETRIES_INTRO, SECTION, share, signedCount, sourceText, title, weekSpan } from './format.ts';
import type { BreakdownRow, CodeRow, ReportModel } from './model.ts';

/** Text for a table cell: no pipes or line breaks. */
export function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ').replace(/[<>]/g, (c) => (c === '<' ? '&lt;' : '&gt;'));
}

function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>, align: readonly ('l' | 'r')[] = []): string {
  const sep = head.map((_, i) => (align[i] === 'r' ? '---:' : '---'));
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head.map(cell)), line(sep), ...rows.map((r) => line(r.map(cell)))].join('\n');
}

const code = (r: { provider: string; code: string }): string => `${r.provider} \`${r.code}\``;

function codeTable(rows: readonly CodeRow[]): string {
  return table(
    ['provider', 'code', 'this week', 'last week', 'change', 'category', 'retry decision'],
    rows.map((r) => [r.provider, r.code, count(r.errors.current), count(r.errors.previous), changeText(r.errors), r.category, r.retry]),
    ['l', 'l', 'r', 'r', 'r', 'l', 'l'],
  );
}

function breakdownTable(name: string, rows: readonly BreakdownRow[]): string {
  return table(
    [name, 'this week', 'share', 'last week', 'change'],
    rows.map((r) => [r.key, count(r.errors.current), share(r.share), count(r.errors.previous), changeText(r.errors)]),
    ['l', 'r', 'r', 'r', 'r'],
  );
}

export function renderMarkdown(model: ReportModel): string {
  const out: string[] = [];
  const h = model.headline;
  out.push(`# ${title(model)}`);
  out.push(`${weekSpan(model.week.startMs, model.week.endMs)} (UTC), compared with ${model.previousWeek.label}. Source: ${sourceText(model)}.`);

  out.push(`## ${SECTION.headline}`);
  if (h.empty) {
    out.push(`No payment-provider calls were recorded in ${model.week.label} or ${model.previousWeek.label}.`);
  } else {
    out.push(
      `**${count(h.errors.current)} errors** in ${count(h.calls.current)} calls (error ratio ${ratio(h.errorRatio.current)}); ` +
        `errors ${percentChange(h.errors)} and calls ${percentChange(h.calls)} week over week.`,
    );
    out.push(
      table(
        ['', 'this week', 'last week', 'change'],
        [
          ['calls', count(h.calls.current), count(h.calls.previous), changeText(h.calls)],
          ['errors', count(h.errors.current), count(h.errors.previous), changeText(h.errors)],
          ['error ratio', ratio(h.errorRatio.current), ratio(h.errorRatio.previous), ratioChangeText(h.errorRatio)],
        ],
        ['l', 'r', 'r', 'r'],
      ),
    );
  }

  out.push(`## ${SECTION.providers}`);
  if (model.providers.length === 0) out.push('No provider had traffic in either week.');
  else
    out.push(
      table(
        ['provider', 'calls', 'calls change', 'errors', 'errors change', 'error ratio', 'ratio change'],
        model.providers.map((p) => [p.provider, count(p.calls.current), changeText(p.calls), count(p.errors.current), changeText(p.errors), ratio(p.errorRatio.current), ratioChangeText(p.errorRatio)]),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
    );

  out.push(`## ${SECTION.daily}`);
  if (model.dailyErrors.length === 0) out.push('No errors this week.');
  else
    out.push(
      table(
        ['provider', ...model.days.map((d) => d.slice(0, 3) + ' ' + d.slice(9)), 'total'],
        model.dailyErrors.map((d) => [d.provider, ...d.days.map(count), count(d.total)]),
        ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
      ),
    );

  out.push(`## ${SECTION.movers}`);
  out.push(model.topMovers.length === 0 ? 'No code changed between the two weeks.' : codeTable(model.topMovers));

  out.push(`## ${SECTION.newCodes}`);
  out.push(
    model.newCodes.length === 0
      ? `No code appeared this week that was absent in ${model.previousWeek.label}.`
      : model.newCodes.map((r) => `- ${code(r)}: ${count(r.errors.current)} errors (${r.category}, ${r.retry})${r.known ? '' : ', not in the catalog'}`).join('\n'),
  );

  out.push(`## ${SECTION.categories}`);
  out.push(model.categories.length === 0 ? 'No errors in either week.' : breakdownTable('category', model.categories));
  out.push(`## ${SECTION.retry}`);
  out.push(model.retryDecisions.length === 0 ? 'No errors in either week.' : breakdownTable('retry decision', model.retryDecisions));

  out.push(`## ${SECTION.violations}`);
  out.push('Attempts sent again after a decision that said the same request cannot succeed.');
  out.push(
    model.retryViolations.length === 0
      ? 'None in either week.'
      : table(
          ['provider', 'code', 'ignored decision', 'this week', 'last week', 'change'],
          model.retryViolations.map((v) => [v.provider, v.code, v.retry, count(v.count.current), count(v.count.previous), changeText(v.count)]),
          ['l', 'l', 'l', 'r', 'r', 'r'],
        ),
  );

  out.push(`## ${SECTION.retries}`);
  out.push(RETRIES_INTRO);
  out.push(
    model.retries.length === 0
      ? 'None in either week.'
      : table(
          ['provider', 'retries', 'last week', 'change', 'storm attempts', 'last week', 'change'],
          model.retries.map((r) => [r.provider, count(r.retries.current), count(r.retries.previous), changeText(r.retries), count(r.stormAttempts.current), count(r.stormAttempts.previous), changeText(r.stormAttempts)]),
          ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
        ),
  );

  out.push(`## ${SECTION.alerts}`);
  if (!model.alerts.available) out.push(model.alerts.reason);
  else if (model.alerts.fired.length === 0) out.push('No alert fired this week.');
  else
    out.push(
      table(
        ['alert', 'severity', 'hours firing', 'first', 'last', 'from'],
        model.alerts.fired.map((a) => [a.name, a.severity, String(a.firingHours), hourText(a.firstHourMs), hourText(a.lastHourMs), a.origin]),
        ['l', 'l', 'r', 'l', 'l', 'l'],
      ),
    );

  out.push(`## ${SECTION.fixFirst}`);
  if (model.topCodes.length === 0) out.push('Nothing: no errors this week.');
  else
    out.push(
      model.topCodes
        .map((r, i) => {
          const what = r.remediation ?? (r.code === 'none' ? 'No provider code (no response or a bare HTTP status): act on the category and retry decision.' : 'Not in the catalog: no remediation on file.');
          return `${i + 1}. **${code(r)}**: ${count(r.errors.current)} errors (${signedCount(r.errors.delta)} vs last week), ${r.category} / ${r.retry}; owner: ${r.owner}. ${what.trim().replace(/\s*\n\s*/g, ' ')}`;
        })
        .join('\n'),
    );

  if (model.notes.length > 0) {
    out.push(`## ${SECTION.notes}`);
    out.push(model.notes.map((n) => `- ${n}`).join('\n'));
  }
  return `${out.join('\n\n')}\n`;
}
