// The report as one self-contained HTML file: inline CSS, charts as inline SVG rendered on the
// server, no scripts and no external resources (a Content-Security-Policy says so to the browser).
import { renderCharts, type Chart } from './charts.ts';
import { changeText, count, hourText, percentChange, ratio, ratioChangeText, RETRIES_INTRO, SECTION, share, signedCount, sourceText, title, weekSpan } from './format.ts';
import type { BreakdownRow, Change, CodeRow, ReportModel } from './model.ts';

export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const CSS = `
:root { color-scheme: light; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2430; margin: 0; background: #f5f6f8; }
main { max-width: 960px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.2em; margin: 32px 0 8px; border-bottom: 1px solid #e2e5ea; padding-bottom: 4px; }
.sub { color: #5b6573; margin: 0 0 16px; }
.tiles { display: flex; gap: 12px; flex-wrap: wrap; }
.tile { flex: 1 1 180px; border: 1px solid #e2e5ea; border-radius: 6px; padding: 10px 14px; }
.tile .v { font-size: 1.6em; font-weight: 600; }
.tile .c { color: #5b6573; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 0.93em; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eceef2; vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.up { color: #b3261e; } .down { color: #2e7d4f; } .new { color: #7a5cb8; font-weight: 600; }
code { background: #f0f2f5; padding: 0 4px; border-radius: 3px; }
figure.chart { margin: 12px 0; }
figure.chart figcaption { color: #5b6573; font-size: 0.9em; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
ol.fix li { margin-bottom: 8px; }
.empty { color: #5b6573; font-style: italic; }
`;

function cls(c: Change): string {
  if (c.isNew) return 'new';
  return c.delta > 0 ? 'up' : c.delta < 0 ? 'down' : '';
}

/** Errors going up are bad news (red); calls going up or down are neither. */
function changeCell(c: Change, colored = true): string {
  return `<td class="n ${colored ? cls(c) : c.isNew ? 'new' : ''}">${esc(changeText(c))}</td>`;
}

const num = (text: string): string => `<td class="n">${esc(text)}</td>`;
const txt = (text: string): string => `<td>${esc(text)}</td>`;
const codeCell = (text: string): string => `<td><code>${esc(text)}</code></td>`;

function table(head: ReadonlyArray<[string, boolean]>, rows: readonly string[]): string {
  return `<table><thead><tr>${head.map(([h, n]) => `<th${n ? ' class="n"' : ''}>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r}</tr>`).join('')}</tbody></table>`;
}

const empty = (text: string): string => `<p class="empty">${esc(text)}</p>`;

function figure(chart: Chart | null): string {
  if (chart === null) return '';
  return `<figure class="chart" id="chart-${chart.id}" data-chart="${chart.id}">${chart.svg}<figcaption>${esc(chart.title)}</figcaption></figure>`;
}

function codeRows(rows: readonly CodeRow[]): string {
  return table(
    [['provider', false], ['code', false], ['this week', true], ['last week', true], ['change', true], ['category', false], ['retry decision', false]],
    rows.map((r) => txt(r.provider) + codeCell(r.code) + num(count(r.errors.current)) + num(count(r.errors.previous)) + changeCell(r.errors) + txt(r.category) + txt(r.retry)),
  );
}

function breakdown(name: string, rows: readonly BreakdownRow[]): string {
  return table(
    [[name, false], ['this week', true], ['share', true], ['last week', true], ['change', true]],
    rows.map((r) => txt(r.key) + num(count(r.errors.current)) + num(share(r.share)) + num(count(r.errors.previous)) + changeCell(r.errors)),
  );
}

export function renderHtml(model: ReportModel): string {
  const charts = renderCharts(model);
  const h = model.headline;
  const parts: string[] = [];
  parts.push(`<h1>${esc(title(model))}</h1>`);
  parts.push(`<p class="sub">${esc(weekSpan(model.week.startMs, model.week.endMs))} (UTC), compared with ${esc(model.previousWeek.label)}. Source: ${esc(sourceText(model))}.</p>`);

  parts.push(`<section id="headline"><h2>${SECTION.headline}</h2>`);
  if (h.empty) parts.push(empty(`No payment-provider calls were recorded in ${model.week.label} or ${model.previousWeek.label}.`));
  else {
    const tile = (name: string, value: string, sub: string, klass: string): string =>
      `<div class="tile"><div>${esc(name)}</div><div class="v">${esc(value)}</div><div class="c ${klass}">${esc(sub)}</div></div>`;
    parts.push(
      `<div class="tiles">` +
        tile('calls', count(h.calls.current), `${changeText(h.calls)} vs ${count(h.calls.previous)}`, '') +
        tile('errors', count(h.errors.current), `${changeText(h.errors)} vs ${count(h.errors.previous)}`, cls(h.errors)) +
        tile('error ratio', ratio(h.errorRatio.current), `${ratioChangeText(h.errorRatio)} vs ${ratio(h.errorRatio.previous)}`, (h.errorRatio.deltaPoints ?? 0) > 0 ? 'up' : 'down') +
        `</div>`,
    );
  }
  parts.push('</section>');

  parts.push(`<section id="providers"><h2>${SECTION.providers}</h2>`);
  parts.push(
    model.providers.length === 0
      ? empty('No provider had traffic in either week.')
      : table(
          [['provider', false], ['calls', true], ['calls change', true], ['errors', true], ['errors change', true], ['error ratio', true], ['ratio change', true]],
          model.providers.map((p) => txt(p.provider) + num(count(p.calls.current)) + changeCell(p.calls, false) + num(count(p.errors.current)) + changeCell(p.errors) + num(ratio(p.errorRatio.current)) + num(ratioChangeText(p.errorRatio))),
        ),
  );
  parts.push('</section>');

  parts.push(`<section id="daily"><h2>${SECTION.daily}</h2>`);
  parts.push(charts.daily === null ? empty('No errors this week.') : figure(charts.daily));
  parts.push('</section>');

  parts.push(`<section id="movers"><h2>${SECTION.movers}</h2>`);
  parts.push(model.topMovers.length === 0 ? empty('No code changed between the two weeks.') : figure(charts.movers) + codeRows(model.topMovers));
  parts.push('</section>');

  parts.push(`<section id="new-codes"><h2>${SECTION.newCodes}</h2>`);
  parts.push(model.newCodes.length === 0 ? empty(`No code appeared this week that was absent in ${model.previousWeek.label}.`) : codeRows(model.newCodes));
  parts.push('</section>');

  parts.push(`<section id="categories"><h2>${SECTION.categories}</h2>`);
  parts.push(model.categories.length === 0 ? empty('No errors in either week.') : figure(charts.categories) + breakdown('category', model.categories));
  parts.push(`</section><section id="retry"><h2>${SECTION.retry}</h2>`);
  parts.push(model.retryDecisions.length === 0 ? empty('No errors in either week.') : breakdown('retry decision', model.retryDecisions));
  parts.push('</section>');

  parts.push(`<section id="violations"><h2>${SECTION.violations}</h2><p>Attempts sent again after a decision that said the same request cannot succeed.</p>`);
  parts.push(
    model.retryViolations.length === 0
      ? empty('None in either week.')
      : table(
          [['provider', false], ['code', false], ['ignored decision', false], ['this week', true], ['last week', true], ['change', true]],
          model.retryViolations.map((v) => txt(v.provider) + codeCell(v.code) + txt(v.retry) + num(count(v.count.current)) + num(count(v.count.previous)) + changeCell(v.count)),
        ),
  );
  parts.push('</section>');

  parts.push(`<section id="retries"><h2>${SECTION.retries}</h2><p>${RETRIES_INTRO}</p>`);
  parts.push(
    model.retries.length === 0
      ? empty('None in either week.')
      : table(
          [['provider', false], ['retries', true], ['last week', true], ['change', true], ['storm attempts', true], ['last week', true], ['change', true]],
          model.retries.map(
            (r) =>
              txt(r.provider) + num(count(r.retries.current)) + num(count(r.retries.previous)) + changeCell(r.retries) +
              num(count(r.stormAttempts.current)) + num(count(r.stormAttempts.previous)) + changeCell(r.stormAttempts),
          ),
        ),
  );
  parts.push('</section>');

  parts.push(`<section id="alerts"><h2>${SECTION.alerts}</h2>`);
  if (!model.alerts.available) parts.push(empty(model.alerts.reason.replace(/`/g, '')));
  else if (model.alerts.fired.length === 0) parts.push(empty('No alert fired this week.'));
  else
    parts.push(
      table(
        [['alert', false], ['severity', false], ['hours firing', true], ['first', false], ['last', false], ['from', false]],
        model.alerts.fired.map((a) => txt(a.name) + txt(a.severity) + num(String(a.firingHours)) + txt(hourText(a.firstHourMs)) + txt(hourText(a.lastHourMs)) + codeCell(a.origin)),
      ),
    );
  parts.push('</section>');

  parts.push(`<section id="fix-first"><h2>${SECTION.fixFirst}</h2>`);
  if (model.topCodes.length === 0) parts.push(empty('Nothing: no errors this week.'));
  else
    parts.push(
      `<ol class="fix">${model.topCodes
        .map((r) => {
          const what = r.remediation ?? (r.code === 'none' ? 'No provider code (no response or a bare HTTP status): act on the category and retry decision.' : 'Not in the catalog: no remediation on file.');
          return (
            `<li><strong>${esc(r.provider)} <code>${esc(r.code)}</code></strong>: ${esc(count(r.errors.current))} errors ` +
            `(${esc(signedCount(r.errors.delta))}, ${esc(percentChange(r.errors))} vs last week), ${esc(r.category)} / ${esc(r.retry)}; ` +
            `owner: <strong>${esc(r.owner)}</strong>.<br>${esc(what.trim())}</li>`
          );
        })
        .join('')}</ol>`,
    );
  parts.push('</section>');

  if (model.notes.length > 0) {
    parts.push(`<section id="notes"><h2>${SECTION.notes}</h2><ul>${model.notes.map((n) => `<li>${esc(n.replace(/`/g, ''))}</li>`).join('')}</ul></section>`);
  }

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title(model))}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${parts.join('\n')}
</main>
</body>
</html>
`;
}
