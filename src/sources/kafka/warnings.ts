// kafkajs 2.2.4 (its last release) schedules a timer with a negative delay on Node 24, which prints a
// harmless `TimeoutNegativeWarning` (kafkajs issue #1751, unfixed upstream; Node clamps it to 1 ms).
// This drops exactly that warning and lets every other warning through unchanged.

let installed = false;

export function suppressKafkajsTimeoutNegativeWarning(): void {
  if (installed) return;
  installed = true;
  const original = process.emitWarning;
  const filtered = function emitWarning(this: NodeJS.Process, warning: string | Error, ...rest: unknown[]): void {
    const first = rest[0];
    const type =
      warning instanceof Error
        ? warning.name
        : typeof first === 'string'
          ? first
          : typeof first === 'object' && first !== null
            ? (first as { type?: unknown }).type
            : undefined;
    if (type === 'TimeoutNegativeWarning') return;
    (original as (...args: unknown[]) => void).call(process, warning, ...rest);
  };
  process.emitWarning = filtered as typeof process.emitWarning;
}
