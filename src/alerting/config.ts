// The `rules` and `alertmanager` sections: the in-process alert engine and where its alerts go.
import { section, setting, type SectionValue } from '../config/declare.ts';

export const rulesSection = section('rules', 'The in-process alert engine (rule format: rules/README.md).', {
  dir: setting.path({ description: 'Directory of rule files (*.yaml); alerting is off when unset.', default: null, env: 'PAYSIGNAL_RULES', example: '../rules' }),
  evaluation_interval: setting.duration({ description: 'How often (wall clock) the engine evaluates and sends.', default: '15s' }),
  allowed_lateness: setting.duration({ description: 'How far behind the newest event time of its partition an event may arrive and still count.', default: '1m' }),
  max_alert_age: setting.duration({ description: 'An alert whose window ended longer ago is not sent (counted as stale), so catching up on a backlog does not page for history.', default: '15m' }),
  partition_idle_timeout: setting.duration({
    description:
      "A partition without events for this long (wall time) stops holding the engine's watermark back; when all are that quiet, the watermark follows the wall clock. Longer than the gap between two batches of one partition while catching up; a quiet partition delays evaluation by at most this.",
    default: '1m',
  }),
  durable_state: setting.boolean({
    description:
      'Checkpoint windows, watermarks and alert states to kafka.state_topic, and restore them at start, so a restart alerts as if it never stopped. Offsets are then committed every checkpoint_interval, each time right after a checkpoint that covers them.',
    default: true,
  }),
  checkpoint_interval: setting.duration({
    description: 'With durable_state: how often the engine is checkpointed and the offsets the checkpoint covers are committed (a crash repeats at most this much input).',
    default: '1s',
  }),
});

export const alertmanagerSection = section('alertmanager', "Where the engine's alerts go (Alertmanager's v2 API).", {
  url: setting.url({ description: 'Alertmanager base URL; alerts are evaluated but not sent when unset.', default: null, env: 'ALERTMANAGER_URL', example: 'http://localhost:9093' }),
  resend_interval: setting.duration({ description: 'Active alerts are sent again this often, so Alertmanager keeps them.', default: '1m' }),
  queue_size: setting.integer({ description: 'Alert updates kept while Alertmanager is unreachable; the oldest are dropped (and counted) beyond it.', default: 1000, min: 1 }),
});

export type RulesConfig = SectionValue<typeof rulesSection>;
export type AlertmanagerConfig = SectionValue<typeof alertmanagerSection>;
