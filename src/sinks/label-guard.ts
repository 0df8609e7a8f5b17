// Bounded label values (docs/architecture.md#metrics). Event data decides label values, so without a bound one
// misbehaving provider (or an attacker who controls a response body) creates unlimited series.
//
// - provider: providers we have a catalog for pass freely; other ids up to `maxProviders`.
// - code: catalog codes pass freely (the catalog bounds them); other codes up to `metrics.unknown_code_cap`
//   per provider.
// - operation: known operations pass freely; others up to `metrics.unknown_operation_cap` per provider.
// Past a cap the value becomes `__overflow__`. A value admitted once stays admitted (first come, first
// served), so series do not flap. Values are also cut to `maxValueLength` characters.
//
// With processing workers the caps hold over all of them (src/pipeline/workers/merged-label-caps.ts):
// the main thread guards the merged series a second time (where `__overflow__` is already a refused
// value and takes no place), and hands its verdicts to the workers' guards (`settle`), which from
// then on admit what was admitted overall without using a place and refuse the rest once a cap is
// full overall. A worker's own cap only bounds the values nobody has judged yet.
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

/** What a guard admitted so far, and which caps are full: for the guards of other threads. */
export interface LabelVerdicts {
  /** Provider label values admitted without a catalog; whether that cap is full. */
  readonly providers: readonly string[];
  readonly providersFull: boolean;
  /** Per provider label value (`__overflow__` included): unknown codes and operations admitted. */
  readonly byProvider: readonly {
    readonly provider: string;
    readonly codes: readonly string[];
    readonly codesFull: boolean;
    readonly operations: readonly string[];
    readonly operationsFull: boolean;
  }[];
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
  /** Set by `settle`: the cap is full overall, refuse every value not admitted. */
  codesFull: boolean;
  operationsFull: boolean;
}

export class LabelGuard {
  private readonly providers = new Map<string, ProviderLabels>();
  private readonly overflowProvider: ProviderLabels;
  private unknownProviders = 0;
  private providersFull = false;
  private readonly maxCodes: number;
  private readonly maxOperations: number;
  private readonly maxProviders: number;
  private readonly maxLength: number;
  private readonly isCatalogCode: (provider: string, code: string) => boolean;
  private readonly isKnownProvider: (provider: string) => boolean;
  private readonly isKnownOperation: (provider: string, operation: string) => boolean;
  /** Set by the last `provider`/`code`/`operation` call: whether it answered `__overflow__` for a refused value. */
  overflowed = false;
  /**
   * Bumped by `settle`, the only thing that changes an answer once given: callers that keep answers
   * (the metrics sink's per-pair series) drop them when it moves.
   */
  generation = 0;

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
      this.overflowed = found === this.overflowProvider;
      return found;
    }
    if (id === OVERFLOW) return this.refuse(this.overflowProvider);
    if (this.isKnownProvider(id)) return this.admitProvider(id);
    if (!this.providersFull && this.unknownProviders < this.maxProviders) {
      this.unknownProviders++;
      return this.admitProvider(id);
    }
    this.overflowed = true;
    return this.overflowProvider;
  }

  code(provider: ProviderLabels, code: string): string {
    const found = provider.codes.get(code);
    if (found !== undefined) {
      this.overflowed = found === OVERFLOW;
      return found;
    }
    this.overflowed = false;
    if (code === OVERFLOW) return this.refuse(OVERFLOW);
    if (provider !== this.overflowProvider && this.isCatalogCode(provider.id, code)) {
      return this.admit(provider.codes, code);
    }
    if (!provider.codesFull && provider.unknownCodes < this.maxCodes) {
      provider.unknownCodes++;
      return this.admit(provider.codes, code);
    }
    this.overflowed = true;
    return OVERFLOW;
  }

  operation(provider: ProviderLabels, operation: string): string {
    const found = provider.operations.get(operation);
    if (found !== undefined) {
      this.overflowed = found === OVERFLOW;
      return found;
    }
    this.overflowed = false;
    if (operation === OVERFLOW) return this.refuse(OVERFLOW);
    if (provider !== this.overflowProvider && this.isKnownOperation(provider.id, operation)) {
      return this.admit(provider.operations, operation);
    }
    if (!provider.operationsFull && provider.unknownOperations < this.maxOperations) {
      provider.unknownOperations++;
      return this.admit(provider.operations, operation);
    }
    this.overflowed = true;
    return OVERFLOW;
  }

  /** This guard's verdicts so far (catalog values left out: every guard admits those). */
  verdicts(): LabelVerdicts {
    const providers: string[] = [];
    const byProvider: LabelVerdicts['byProvider'][number][] = [];
    for (const state of [...this.providers.values(), this.overflowProvider]) {
      if (state !== this.overflowProvider && !this.isKnownProvider(state.id)) providers.push(state.label);
      const codes: string[] = [];
      for (const [code, label] of state.codes) if (label !== OVERFLOW && !this.isCatalogCode(state.id, code)) codes.push(label);
      const operations: string[] = [];
      for (const [operation, label] of state.operations) if (label !== OVERFLOW && !this.isKnownOperation(state.id, operation)) operations.push(label);
      const codesFull = state.codesFull || state.unknownCodes >= this.maxCodes;
      const operationsFull = state.operationsFull || state.unknownOperations >= this.maxOperations;
      if (codes.length > 0 || operations.length > 0 || codesFull || operationsFull) byProvider.push({ provider: state.label, codes, codesFull, operations, operationsFull });
    }
    return { providers, providersFull: this.providersFull || this.unknownProviders >= this.maxProviders, byProvider };
  }

  /**
   * Takes another guard's verdicts over values this guard has seen too: admitted values are admitted
   * here without using a place, values it refused are refused here from now on (their series so far
   * stay), and this guard's places count only the values not judged yet.
   */
  settle(verdicts: LabelVerdicts): void {
    this.generation++;
    this.providersFull = verdicts.providersFull;
    const admittedProviders = new Set(verdicts.providers);
    let pendingProviders = 0;
    for (const [id, state] of this.providers) {
      if (state === this.overflowProvider || this.isKnownProvider(id) || admittedProviders.has(state.label)) continue;
      if (verdicts.providersFull) this.providers.set(id, this.overflowProvider);
      else pendingProviders++;
    }
    for (const label of admittedProviders) if (!this.providers.has(label)) this.admitProvider(label);
    this.unknownProviders = pendingProviders;
    for (const v of verdicts.byProvider) {
      const state = v.provider === OVERFLOW ? this.overflowProvider : (this.providers.get(v.provider) ?? (this.isKnownProvider(v.provider) ? this.admitProvider(v.provider) : undefined));
      if (state === undefined || state.label !== v.provider) continue;
      state.codesFull = v.codesFull;
      state.unknownCodes = settleValues(state.codes, new Set(v.codes), v.codesFull, (code) => state !== this.overflowProvider && this.isCatalogCode(state.id, code));
      state.operationsFull = v.operationsFull;
      state.unknownOperations = settleValues(state.operations, new Set(v.operations), v.operationsFull, (op) => state !== this.overflowProvider && this.isKnownOperation(state.id, op));
    }
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
  return { id, label, codes: new Map(), unknownCodes: 0, operations: new Map(), unknownOperations: 0, codesFull: false, operationsFull: false };
}

/** Applies verdicts to one label's admitted values; returns how many are still unjudged (the places they use). */
function settleValues(values: Map<string, string>, admitted: ReadonlySet<string>, full: boolean, free: (value: string) => boolean): number {
  let pending = 0;
  for (const [value, label] of values) {
    if (label === OVERFLOW || free(value) || admitted.has(label)) continue;
    if (full) values.set(value, OVERFLOW);
    else pending++;
  }
  for (const label of admitted) if (!values.has(label)) values.set(label, label);
  return pending;
}

function nonNegative(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer, got ${n}`);
  return n;
}

const never1 = (): boolean => false;
const never2 = (): boolean => false;
