// Wiring of the alerting parts for `paysignal run` and the demo: rules loaded (and hot-reloaded) from
// files into the engine, the engine's alerts sent to Alertmanager. The engine is the EventSink to put
// in the pipeline; see rules/README.md for every option's meaning.
import type { Registry } from 'prom-client';
import { createAlertmanagerClient, type AlertmanagerClient } from './alertmanager.ts';
import type { Clock } from './clock.ts';
import type { AlertmanagerConfig, RulesConfig } from './config.ts';
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
  /** The engine's settings. */
  readonly rules: RulesConfig;
  /** Where alerts go; with `url` null they are evaluated (metrics, logs) but not sent. */
  readonly alertmanager: AlertmanagerConfig;
  /** generatorURL template, e.g. a Grafana dashboard link with `{{ $labels.provider }}`. */
  readonly generatorUrl?: string;
  readonly registry: Registry;
  readonly logger?: AlertingLogger;
  readonly clock?: Clock;
  readonly maxGroupsPerRule?: number;
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
  const { rules, alertmanager } = options;
  const client = alertmanager.url
    ? createAlertmanagerClient({
        url: alertmanager.url,
        registry: options.registry,
        resendIntervalMs: alertmanager.resend_interval,
        queueSize: alertmanager.queue_size,
        ...(options.generatorUrl === undefined ? {} : { generatorUrl: options.generatorUrl }),
        ...(options.clock === undefined ? {} : { clock: options.clock }),
        ...(logger === undefined ? {} : { logger }),
      })
    : null;
  const engine = createAlertEngine({
    ruleSets: [],
    registry: options.registry,
    ...(client === null ? {} : { notifier: client }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    allowedLatenessMs: rules.allowed_lateness,
    maxAlertAgeMs: rules.max_alert_age,
    tickIntervalMs: rules.evaluation_interval,
    idleTimeoutMs: rules.partition_idle_timeout,
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
