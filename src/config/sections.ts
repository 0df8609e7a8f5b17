// Every section of the configuration, in the order of paysignal.yaml and docs/configuration.md. Each
// is declared next to the component that reads it; adding a section means adding it here.
import { alertmanagerSection, rulesSection } from '../alerting/config.ts';
import { correlationSection } from '../classify/config.ts';
import { inputSection } from '../events/config.ts';
import { reportSection } from '../report/config.ts';
import { httpSection } from '../server/config.ts';
import { processingSection } from '../pipeline/workers/config.ts';
import { deadLetterSection, eventsFileSection, metricsSection, tracingSection } from '../sinks/config.ts';
import { kafkaSection } from '../sources/kafka/config.ts';

export const SECTIONS = [
  kafkaSection,
  deadLetterSection,
  httpSection,
  inputSection,
  metricsSection,
  tracingSection,
  correlationSection,
  rulesSection,
  alertmanagerSection,
  reportSection,
  processingSection,
  eventsFileSection,
] as const;
