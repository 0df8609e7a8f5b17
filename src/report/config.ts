// The `report` section: what `paysignal report` uses when its flags do not say (flags win).
import { section, setting } from '../config/declare.ts';

export const REPORT_FORMATS = ['md', 'html', 'json'] as const;

export const reportSection = section('report', '`paysignal report` (with `--config FILE` or PAYSIGNAL_CONFIG) takes these when its flags do not say.', {
  prometheus_url: setting.url({
    description: 'Prometheus to query with `--source prometheus` (flag: --prometheus-url).',
    default: 'http://127.0.0.1:9090',
    env: 'PROMETHEUS_URL',
  }),
  format: setting.oneOf(REPORT_FORMATS, { description: 'Markdown, one HTML file with charts, or the report model as JSON (flag: --format).', default: 'md' }),
});
