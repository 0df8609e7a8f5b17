// Wiring of the alerting parts for `paysignal run` and the demo: rules loaded (and hot-reloaded) from
// files into the engine, the engine's alerts sent to Alertmanager. The engine is the EventSink to put
// in the pipeline; see rules/README.md for every option's meaning.
import type { Registry } from 'prom-client';
import { createAlertmanagerClient, type AlertmanagerClient } from './alertmanager.ts';
import type { Clock } from './clock.ts';
import { createAlertEngine, type AlertEngine } from './engine/index.ts';
import { RuleLoadError } from './loader.ts';
import { createRuleReloader, type RuleReloader } from './reload.ts';

export interface AlertingLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AlertingOptions {
  /** Rule files or directories (PAYSIGNAL_RULES). */
  readonly rulesPaths: readonly string[];
  /** ALERTMANAGER_URL; null/undefined: alerts are evaluated (metrics, logs) but not sent. */
  readonly alertmanagerUrl?: string | null;
  /** generatorURL template, e.g. a Grafana dashboard link with `{{ $labels.provider }}`. */
  readonly generatorUrl?: string;
  readonly registry: Registry;
  readonly logger?: AlertingLogger;
  readonly clock?: Clock;
  /** Engine: default 30 s. */
  readonly allowedLatenessMs?: number;
  /** Engine: default 15 min. */
  readonly maxAlertAgeMs?: number;
  /** Engine tick (sending), default 5 s. */
  readonly tickIntervalMs?: number;
  /** Engine: wall time after which a silent partition stops holding the watermark back; default 60 s; null: never. */
  readonly idleTimeoutMs?: number | null;
  readonly maxGroupsPerRule?: number;
  /** Alertmanager re-send period, default 60 s. */
  readonly resendIntervalMs?: number;
  /** Watch the rule paths for changes; default true. */
  readonly watch?: boolean;
  /** Reload signal; default SIGHUP. */
  readonly reloadSignal?: NodeJS.Signals | null;
}

export interface Alerting {
  /** The EventSink for the pipeline. */
  readonly engine: AlertEngine;
  readonly client: AlertmanagerClient | null;
  readonly reloader: RuleReloader;
  /** Loads the rules (throws RuleLoadError listing every problem when they do not load) and starts the timers. */
  start(): Promise<void>;
  /** Stops watching, sends the last state, drains the Alertmanager queue (bounded wait). */
  close(): Promise<void>;
}

export function createAlerting(options: AlertingOptions): Alerting {
  const logger = options.logger;
  const client = options.alertmanagerUrl
    ? createAlertmanagerClient({
        url: options.alertmanagerUrl,
        registry: options.registry,
        ...(options.generatorUrl === undefined ? {} : { generatorUrl: options.generatorUrl }),
        ...(options.resendIntervalMs === undefined ? {} : { resendIntervalMs: options.resendIntervalMs }),
        ...(options.clock === undefined ? {} : { clock: options.clock }),
        ...(logger === undefined ? {} : { logger }),
      })
    : null;
  const engine = createAlertEngine({
    ruleSets: [],
    registry: options.registry,
    ...(client === null ? {} : { notifier: client }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.allowedLatenessMs === undefined ? {} : { allowedLatenessMs: options.allowedLatenessMs }),
    ...(options.maxAlertAgeMs === undefined ? {} : { maxAlertAgeMs: options.maxAlertAgeMs }),
    ...(options.tickIntervalMs === undefined ? {} : { tickIntervalMs: options.tickIntervalMs }),
    ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
    ...(options.maxGroupsPerRule === undefined ? {} : { maxGroupsPerRule: options.maxGroupsPerRule }),
    ...(logger === undefined ? {} : { logger }),
  });
  const reloader = createRuleReloader({
    paths: options.rulesPaths,
    target: engine,
    registry: options.registry,
    ...(logger === undefined ? {} : { logger }),
    ...(options.watch === undefined ? {} : { watch: options.watch }),
    ...(options.reloadSignal === undefined ? {} : { signal: options.reloadSignal }),
  });
  return {
    engine,
    client,
    reloader,
    async start() {
      const first = await reloader.start();
      if (!first.ok) throw new RuleLoadError(first.problems);
      engine.start();
      client?.start();
    },
    async close() {
      reloader.close();
      await engine.close();
      await client?.close();
    },
  };
}

export { createAlertEngine, type AlertEngine, type AlertEngineOptions, type AlertSnapshot } from './engine/index.ts';
export { createAlertmanagerClient, type AlertmanagerClient, type AlertmanagerClientOptions } from './alertmanager.ts';
export { createRuleReloader, type RuleReloader } from './reload.ts';
export { loadRules, loadRulesOrThrow, formatProblem, RuleLoadError, type RuleProblem } from './loader.ts';
export { toPrometheusRule, toPrometheusRuleFile } from './compiler.ts';
