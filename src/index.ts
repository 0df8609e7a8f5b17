// The library entry point (`import … from 'paysignal'`), for teams that embed paysignal instead of
// running it: the classifier (catalog lookup on one event), the decoder (bytes to a validated,
// redacted event) and the rule compiler (rule files to Prometheus rules). package.json's `exports`
// exposes only this module; everything else in the package is internal and may change.
//
//   const classifier = await createClassifier();
//   const decoder = createDecoder({ idHeaders: classifier.idHeaders, mapping: await loadMapping('ecs') });
//   const decoded = decoder.decode(Buffer.from(line));
//   if (decoded.ok) classifier.classify(decoded.event).retry;   // e.g. 'contact_provider'

// Classifier: the provider catalogs shipped with the package (or a directory of your own).
export { createClassifier } from './classify/classifier.ts';
export type { Classifier } from './classify/classifier.ts';
export type { Classification, CatalogEntry, MatchedBy, Outcome } from './classify/classification.ts';
export { CATEGORIES, OWNERS, RETRY_DECISIONS } from './classify/taxonomy.ts';
export type { Category, Owner, RetryDecision } from './classify/taxonomy.ts';

// Decoder: never throws for bad input; a rejection carries a stable reason code.
export { createDecoder, DEFAULT_MAX_EVENT_BYTES } from './events/decode.ts';
export type { Decoder, DecoderOptions, DecodeResult } from './events/decode.ts';
export { BUILT_IN_MAPPINGS, loadMapping } from './events/mapping.ts';
export type { FieldMapping } from './events/mapping.ts';
export type { Environment, Headers, PaymentCallEvent } from './events/event.ts';
export type { Rejection, RejectionReason } from './pipeline/types.ts';

// Rule compiler: load and validate rule files, then compile them to Prometheus rules.
export { formatProblem, loadRules, parseRuleSet } from './alerting/loader.ts';
export type { RuleErrorCode, RuleProblem } from './alerting/loader.ts';
export { compileRuleSet, toPrometheusRule, toPrometheusRuleFile } from './alerting/compiler.ts';
export type { PrometheusRuleOptions, PromAlertingRule, PromRecordingRule, PromRule, PromRuleGroup } from './alerting/compiler.ts';
export type { Rule, RuleKind, RuleSet } from './alerting/types.ts';

export { PaysignalError } from './errors.ts';
export type { ErrorCode } from './errors.ts';
