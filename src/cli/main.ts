// The `paysignal` command: dispatches to a subcommand and turns errors into exit codes
// (0 success, 1 failure, 2 usage error; the same for every subcommand).
import { readFile } from 'node:fs/promises';
import { PaysignalError } from '../errors.ts';

type Command = (argv: string[]) => Promise<number>;

// Subcommands load lazily: each pays only for its own imports (classify's main thread, for one, does
// not load the catalogs, which its workers load).
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  classify: { summary: 'classify NDJSON events from a file or stdin', load: async () => (await import('./commands/classify.ts')).classifyCommand },
  explain: { summary: 'show a provider error code and what to do', load: async () => (await import('./commands/explain.ts')).explainCommand },
  run: { summary: 'consume payment-call events from Kafka (the service)', load: async () => (await import('./commands/run.ts')).runCommand },
  demo: { summary: 'the whole pipeline locally on an embedded broker with generated traffic', load: async () => (await import('./commands/demo.ts')).demoCommand },
  rules: { summary: 'check, test and compile alert rules', load: async () => (await import('./commands/rules.ts')).rulesCommand },
  report: { summary: 'weekly error-trend report from Prometheus or log files', load: async () => (await import('./commands/report.ts')).reportCommand },
};

const USAGE = `Usage: paysignal <command> [options]
       paysignal --version | --help

Commands:
${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`).join('\n')}

Examples:
  paysignal explain kustom MERCHANT_INACTIVE
  paysignal classify events.ndjson
  paysignal rules check rules/
  KAFKA_BROKERS=kafka:9092 KAFKA_TOPIC=payment-calls paysignal run
  paysignal demo

Exit codes: 0 success, 1 failure (bad input, invalid rules, unknown code, failed run), 2 usage error.
Output has no colour or terminal control sequences when NO_COLOR is set.
Run \`paysignal <command> --help\` for a command's options and examples.`;

// package.json is two levels up from both src/cli/main.ts and the package's dist/cli/main.js.
async function version(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`paysignal: missing command\n${USAGE}\n`);
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`${await version()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`paysignal: unknown command "${name}"\n${USAGE}\n`);
    return 2;
  }
  try {
    return await (await command.load())(rest);
  } catch (error) {
    if (error instanceof PaysignalError) {
      process.stderr.write(`paysignal ${name}: ${error.describe()}\n`);
      return error.exitCode;
    }
    if (error instanceof TypeError && (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`paysignal ${name}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

// stdout closed early (e.g. `paysignal classify big.ndjson | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const code = await main(process.argv.slice(2));
process.exitCode = code;
