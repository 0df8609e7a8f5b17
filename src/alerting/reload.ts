// Hot reload of rule files: the rules directory is watched (fs.watch, debounced) and SIGHUP reloads
// too. A reload installs the new rules only when every file loads cleanly; otherwise the previous rules
// stay in force, the problems are logged, paysignal_rules_reload_failures_total counts up and
// paysignal_rules_last_reload_success drops to 0 (back to 1 on the next good reload).
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Registry } from 'prom-client';
import { formatProblem, loadRules, type RuleProblem } from './loader.ts';
import { alertingMetrics, type AlertingMetrics } from './metrics.ts';
import type { RuleSet } from './types.ts';

export interface RuleTarget {
  setRuleSets(ruleSets: readonly RuleSet[]): void;
}

export interface RuleReloaderOptions {
  /** Rule files and/or directories (directories: their *.yaml / *.yml). */
  readonly paths: readonly string[];
  /** Usually the alert engine. */
  readonly target: RuleTarget;
  readonly registry?: Registry;
  readonly logger?: { info(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /** Quiet time after the last file event before reloading; default 250 ms. */
  readonly debounceMs?: number;
  /** Watch the paths; default true. */
  readonly watch?: boolean;
  /** Reload on this signal; default SIGHUP, null for none. */
  readonly signal?: NodeJS.Signals | null;
  /** Called after every reload attempt (tests, logs). */
  readonly onReload?: (result: ReloadResult) => void;
}

export interface ReloadResult {
  readonly ok: boolean;
  readonly rules: number;
  readonly problems: readonly RuleProblem[];
}

export interface RuleReloader {
  /** First load, then watching starts. When the rules do not load, nothing is installed and nothing is watched (ok: false). */
  start(): Promise<ReloadResult>;
  /** Loads now; keeps the previous rules on failure. */
  reload(): Promise<ReloadResult>;
  close(): void;
}

export function createRuleReloader(options: RuleReloaderOptions): RuleReloader {
  const metrics: AlertingMetrics | null = options.registry ? alertingMetrics(options.registry) : null;
  const debounceMs = options.debounceMs ?? 250;
  const signal = options.signal === undefined ? 'SIGHUP' : options.signal;
  const watchers: FSWatcher[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  let running: Promise<ReloadResult> | null = null;
  let again = false;
  let closed = false;

  // The first load has no previous rules to keep: its failure is not a failed reload, and the caller
  // refuses to start.
  const loadOnce = async (first: boolean): Promise<ReloadResult> => {
    const { ruleSets, problems } = await loadRules(options.paths);
    if (problems.length > 0) {
      if (first) {
        options.logger?.error({ problems: problems.map(formatProblem) }, 'alert rules did not load');
        return { ok: false, rules: 0, problems };
      }
      metrics?.reloadFailures.inc();
      metrics?.lastReloadSuccess.set(0);
      options.logger?.error({ problems: problems.map(formatProblem) }, 'alert rules not reloaded; the previous rules stay in force');
      return { ok: false, rules: 0, problems };
    }
    options.target.setRuleSets(ruleSets);
    metrics?.lastReloadSuccess.set(1);
    const rules = ruleSets.reduce((n, s) => n + s.rules.length, 0);
    options.logger?.info({ rules, files: ruleSets.map((s) => s.file) }, 'alert rules loaded');
    return { ok: true, rules, problems: [] };
  };

  const reload = async (): Promise<ReloadResult> => {
    // One load at a time; a request during a load runs once more afterwards.
    if (running) {
      again = true;
      return await running;
    }
    running = (async () => {
      let result: ReloadResult;
      do {
        again = false;
        result = await loadOnce(false);
        options.onReload?.(result);
      } while (again && !closed);
      return result;
    })();
    try {
      return await running;
    } finally {
      running = null;
    }
  };

  const schedule = (): void => {
    if (closed) return;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void reload();
    }, debounceMs);
  };

  const onSignal = (): void => {
    void reload();
  };

  return {
    async start() {
      const first = await loadOnce(true);
      options.onReload?.(first);
      if (!first.ok) return first;
      if (options.watch ?? true) {
        for (const p of options.paths) {
          try {
            await stat(p);
            const w = watch(p, { persistent: false }, () => schedule());
            w.on('error', (error) => options.logger?.error({ err: error, path: p }, 'watching rule files failed'));
            watchers.push(w);
          } catch (error) {
            options.logger?.error({ err: error, path: p }, 'cannot watch rule path');
          }
        }
      }
      if (signal !== null) process.on(signal, onSignal);
      return first;
    },
    reload,
    close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      for (const w of watchers) w.close();
      watchers.length = 0;
      if (signal !== null) process.off(signal, onSignal);
    },
  };
}
