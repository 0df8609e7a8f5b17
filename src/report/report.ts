// The weekly report end to end: fetch from a source, build the model, render.
import type { Classifier } from '../classify/classifier.ts';
import { REPORT_FORMATS } from './config.ts';
import { fromLogs, type LogsSourceOptions } from './logs-source.ts';
import { fromPrometheus, type PrometheusSourceOptions } from './prometheus-source.ts';
import { buildReport, type ReportModel } from './model.ts';
import { renderMarkdown } from './markdown.ts';
import { renderHtml } from './html.ts';
import type { IsoWeek } from './week.ts';

export type ReportFormat = (typeof REPORT_FORMATS)[number];
export const FORMATS: readonly ReportFormat[] = REPORT_FORMATS;

export type SourceOptions =
  | ({ readonly kind: 'prometheus' } & PrometheusSourceOptions)
  | ({ readonly kind: 'logs' } & Omit<LogsSourceOptions, 'classifier'>);

export async function createReport(week: IsoWeek, source: SourceOptions, classifier: Classifier, top = 10): Promise<ReportModel> {
  const input = source.kind === 'prometheus' ? await fromPrometheus(week, source) : await fromLogs(week, { ...source, classifier });
  return buildReport(input, classifier, { top });
}

export function render(model: ReportModel, format: ReportFormat): string {
  switch (format) {
    case 'md':
      return renderMarkdown(model);
    case 'html':
      return renderHtml(model);
    case 'json':
      return `${JSON.stringify(model, null, 2)}\n`;
  }
}
