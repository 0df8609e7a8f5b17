// The `lookback` field of the kinds that compare their window with the history right before it
// (absence, new_error_code): read the same way, so both refuse the same mistakes with the same problem.
import { formatDuration } from '../../kernel/duration.ts';
import type { RuleBase } from '../types.ts';
import type { KindFieldReader } from './kind.ts';

/** The rule's lookback in ms (0 when absent or not a duration); problems when it is off the interval or shorter than the window. */
export function readLookback(base: RuleBase, read: KindFieldReader): number {
  const lookbackPath = read.at('lookback');
  const lookbackMs = read.duration(lookbackPath, read.raw.lookback as string | undefined, null) ?? 0;
  read.multipleOfInterval(lookbackPath, lookbackMs, 'lookback');
  if (lookbackMs !== 0 && base.windowMs > lookbackMs) {
    read.problem('E_WINDOW_EXCEEDS_LOOKBACK', lookbackPath, `window ${formatDuration(base.windowMs)} is longer than lookback ${formatDuration(lookbackMs)}`);
  }
  return lookbackMs;
}
