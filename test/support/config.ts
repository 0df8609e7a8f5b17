// The configuration every setting left at its declared default, for tests that build components
// directly: components hold no defaults of their own, so tests take the declared ones from here.
import { parseConfig } from '../../src/config/config.ts';

export const DEFAULT_CONFIG = parseConfig(null, null, {});
