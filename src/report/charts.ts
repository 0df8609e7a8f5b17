// Charts for the HTML report, rendered on the server to SVG by Apache ECharts' SSR renderer
// (no DOM, no script in the output): the HTML file stays self-contained and opens anywhere.
import * as echarts from 'echarts';
import type { ReportModel } from './model.ts';

export interface Chart {
  /** Stable id, used as the HTML element id (`chart-<id>`). */
  readonly id: string;
  readonly title: string;
  readonly svg: string;
}

const WIDTH = 880;
const PALETTE = ['#3b6fb6', '#d9822b', '#3a9e6b', '#c23b4a', '#7a5cb8', '#8c6d46', '#d36fab', '#6d7b8a', '#b5a82f', '#2fa9b5'];

function render(option: Record<string, unknown>, height: number): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width: WIDTH, height });
  try {
    chart.setOption({ animation: false, color: PALETTE, textStyle: { fontFamily: 'system-ui, sans-serif' }, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

function dailyErrors(model: ReportModel): Chart | null {
  if (model.dailyErrors.length === 0) return null;
  const svg = render(
    {
      legend: { top: 0, type: 'scroll' },
      grid: { left: 56, right: 24, top: 40, bottom: 32 },
      xAxis: { type: 'category', data: model.days.map((d) => d.slice(0, 3) + ' ' + d.slice(9)) },
      yAxis: { type: 'value', name: 'errors', minInterval: 1 },
      series: model.dailyErrors.map((d) => ({ name: d.provider, type: 'bar', stack: 'errors', data: d.days.map((n) => Math.round(n)) })),
    },
    320,
  );
  return { id: 'daily-errors', title: 'Errors per day, by provider', svg };
}

function categories(model: ReportModel): Chart | null {
  const rows = model.categories;
  if (rows.length === 0) return null;
  const ordered = [...rows].reverse();
  const svg = render(
    {
      legend: { top: 0, data: [model.previousWeek.label, model.week.label] },
      grid: { left: 130, right: 32, top: 36, bottom: 28 },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: { type: 'category', data: ordered.map((r) => r.key) },
      series: [
        { name: model.previousWeek.label, type: 'bar', data: ordered.map((r) => Math.round(r.errors.previous)), itemStyle: { color: '#b8c4d6' } },
        { name: model.week.label, type: 'bar', data: ordered.map((r) => Math.round(r.errors.current)), itemStyle: { color: '#3b6fb6' } },
      ],
    },
    Math.max(180, 60 + rows.length * 34),
  );
  return { id: 'categories', title: 'Errors by category, this week and last week', svg };
}

function movers(model: ReportModel): Chart | null {
  const rows = model.topMovers;
  if (rows.length === 0) return null;
  const ordered = [...rows].reverse();
  const svg = render(
    {
      grid: { left: 230, right: 48, top: 16, bottom: 28 },
      xAxis: { type: 'value', name: 'change in errors', nameLocation: 'middle', nameGap: 22, minInterval: 1 },
      yAxis: { type: 'category', data: ordered.map((r) => `${r.provider} ${r.code}`) },
      series: [
        {
          type: 'bar',
          data: ordered.map((r) => ({ value: Math.round(r.errors.delta), itemStyle: { color: r.errors.delta > 0 ? '#c23b4a' : '#3a9e6b' } })),
          label: { show: true, position: 'right' },
        },
      ],
    },
    Math.max(160, 50 + rows.length * 30),
  );
  return { id: 'movers', title: 'Top movers: change in errors per code', svg };
}

/** The charts that have data, in report order. */
export function renderCharts(model: ReportModel): { daily: Chart | null; categories: Chart | null; movers: Chart | null } {
  return { daily: dailyErrors(model), categories: categories(model), movers: movers(model) };
}
