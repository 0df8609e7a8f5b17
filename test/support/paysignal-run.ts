// Runs `paysignal run` (src/cli/commands/run.ts) as its own process, the way the CLI does, for the
// tests that kill and restart it.
import { runCommand } from '../../src/cli/commands/run.ts';

process.exitCode = await runCommand(process.argv.slice(2));
