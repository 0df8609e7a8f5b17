// The processing stages of the service built from its configuration: signals (metrics, spans,
// correlation) and the alerting. `paysignal run` and the benchmarks build them the same way.
import type { Registry } from 'prom-client';
import { createAlerting, RuleLoadError, type Alerting, type AlertingOptions } from '../alerting/index.ts';
import type { Classifier } from '../classify/classifier.ts';
import type { PaysignalConfig } from '../config/config.ts';
import { PaysignalError } from '../errors.ts';
import type { Logger } from '../logging.ts';
import { createSignals, type Signals } from '../sinks/signals.ts';

export function signalsFromConfig(config: PaysignalConfig, classifier: Classifier, registry: Registry): Signals {
  return createSignals({
    classifier,
    registry,
    metrics: config.metrics,
    tracing: config.tracing,
    correlation: config.correlation,
  });
}

/**
 * The started alerting for `config.rules.dir` (null when no rules are configured). Rules that do not
 * load are a configuration error (RULES_INVALID) naming every problem.
 */
export async function startAlertingFromConfig(
  config: PaysignalConfig,
  registry: Registry,
  logger: Logger | undefined,
  overrides: Partial<Pick<AlertingOptions, 'watch' | 'reloadSignal' | 'alertmanager'>> = {},
): Promise<Alerting | null> {
  if (config.rules.dir === null) return null;
  const alerting = createAlerting({
    rulesPaths: [config.rules.dir],
    rules: config.rules,
    alertmanager: config.alertmanager,
    registry,
    ...(logger === undefined ? {} : { logger: logger.child({ component: 'alerting' }) }),
    ...overrides,
  });
  try {
    await alerting.start();
  } catch (error) {
    await alerting.close();
    if (error instanceof RuleLoadError) throw new PaysignalError('RULES_INVALID', error.message, { file: config.rules.dir, cause: error });
    throw error;
  }
  return alerting;
}
