// Bounded label values (docs/architecture.md#metrics). Event data decides label values, so without a bound one
// misbehaving provider (or an attacker who controls a response body) creates unlimited series.
//
// - provider: providers we have a catalog for pass freely; other ids up to `maxProviders`.
// - code: catalog codes pass freely (the catalog bounds them); other codes up to `metrics.unknown_code_cap`
//   per provider.
// - operation: known operations pass freely; others up to `metrics.unknown_operation_cap` per provider.
// Past a cap the value becomes `__overflow__`. A value admitted once stays admitted (first come, first
// served), so series do not flap. Values are also cut to `maxValueLength` characters. `__overflow__`
// itself never takes a place: the worker pool guards labels a second time, over its workers' merged
// series (src/pipeline/workers/merged-label-caps.ts), where it is already a refused value.
//
// Lookups of admitted values are Map hits and allocate nothing.

import type { MetricsConfig } from './config.ts';

export const OVERFLOW = '__overflow__';

export interface LabelGuardOptions {
  /** The `metrics` section of the configuration: the caps on unknown codes and operations. */
  readonly metrics: MetricsConfig;
  /** Provider ids without a catalog admitted; default 50. */
  readonly maxProviders?: number;
  /** Longer label values are cut; default 128. */
  readonly maxValueLength?: number;
  /** Whether `code` is in `provider`'s catalog (the classifier's `isCatalogCode`). */
  readonly isCatalogCode?: (provider: string, code: string) => boolean;
  readonly isKnownProvider?: (provider: string) => boolean;
  readonly isKnownOperation?: (provider: string, operation: string) => boolean;
}

export interface ProviderLabels {
  /** The provider label value (may be `__overflow__`). */
  readonly label: string;
  /** The raw provider id, for catalog lookups. */
  readonly id: string;
  /** Admitted code -> label value. */
  readonly codes: Map<string, string>;
  unknownCodes: number;
  readonly operations: Map<string, string>;
  unknownOperations: number;
}

export class LabelGuard {
  private readonly providers = new Map<string, ProviderLabels>();
  private readonly overflowProvider: ProviderLabels;
  private unknownProviders = 0;
  private readonly maxCodes: number;
  private readonly maxOperations: number;
  private readonly maxProviders: number;
  private readonly maxLength: number;
  private readonly isCatalogCode: (provider: string, code: string) => boolean;
  private readonly isKnownProvider: (provider: string) => boolean;
  private readonly isKnownOperation: (provider: string, operation: string) => boolean;
  /** Set by the last `provider`/`code`/`operation` call: whether it answered `__overflow__` for a refused value. */
  overflowed = false;

  constructor(options: LabelGuardOptions) {
    this.maxCodes = nonNegative(options.metrics.unknown_code_cap, 'metrics.unknown_code_cap');
    this.maxOperations = nonNegative(options.metrics.unknown_operation_cap, 'metrics.unknown_operation_cap');
    this.maxProviders = nonNegative(options.maxProviders ?? 50, 'maxProviders');
    this.maxLength = Math.max(1, options.maxValueLength ?? 128);
    this.isCatalogCode = options.isCatalogCode ?? never2;
    this.isKnownProvider = options.isKnownProvider ?? never1;
    this.isKnownOperation = options.isKnownOperation ?? never2;
    this.overflowProvider = makeProvider(OVERFLOW, OVERFLOW);
  }

  /** The label state for a provider id; `overflowed` tells whether the id was refused. */
  provider(id: string): ProviderLabels {
    const found = this.providers.get(id);
    if (found !== undefined) {
      this.overflowed = false;
      return found;
    }
    if (id === OVERFLOW) return this.refuse(this.overflowProvider);
    if (this.isKnownProvider(id)) return this.admitProvider(id);
    if (this.unknownProviders < this.maxProviders) {
      this.unknownProviders++;
      return this.admitProvider(id);
    }
    this.overflowed = true;
    return this.overflowProvider;
  }

  code(provider: ProviderLabels, code: string): string {
    const found = provider.codes.get(code);
    if (found !== undefined) {
      this.overflowed = false;
      return found;
    }
    this.overflowed = false;
    if (code === OVERFLOW) return this.refuse(OVERFLOW);
    if (provider !== this.overflowProvider && this.isCatalogCode(provider.id, code)) {
      return this.admit(provider.codes, code);
    }
    if (provider.unknownCodes < this.maxCodes) {
      provider.unknownCodes++;
      return this.admit(provider.codes, code);
    }
    this.overflowed = true;
    return OVERFLOW;
  }

  operation(provider: ProviderLabels, operation: string): string {
    const found = provider.operations.get(operation);
    if (found !== undefined) {
      this.overflowed = false;
      return found;
    }
    this.overflowed = false;
    if (operation === OVERFLOW) return this.refuse(OVERFLOW);
    if (provider !== this.overflowProvider && this.isKnownOperation(provider.id, operation)) {
      return this.admit(provider.operations, operation);
    }
    if (provider.unknownOperations < this.maxOperations) {
      provider.unknownOperations++;
      return this.admit(provider.operations, operation);
    }
    this.overflowed = true;
    return OVERFLOW;
  }

  private refuse<T>(value: T): T {
    this.overflowed = true;
    return value;
  }

  private admitProvider(id: string): ProviderLabels {
    const state = makeProvider(id, this.cut(id));
    this.providers.set(id, state);
    this.overflowed = false;
    return state;
  }

  private admit(map: Map<string, string>, value: string): string {
    const label = this.cut(value);
    map.set(value, label);
    return label;
  }

  private cut(value: string): string {
    return value.length > this.maxLength ? value.slice(0, this.maxLength) : value;
  }
}

function makeProvider(id: string, label: string): ProviderLabels {
  return { id, label, codes: new Map(), unknownCodes: 0, operations: new Map(), unknownOperations: 0 };
}

function nonNegative(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer, got ${n}`);
  return n;
}

const never1 = (): boolean => false;
const never2 = (): boolean => false;
