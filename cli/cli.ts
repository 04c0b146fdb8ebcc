// The sockhunt command line: one binary, subcommands, `--help` on each. Exit codes: 0 ok, 1 findings at or
// above --fail-on, 2 usage or input error, 3 runtime failure.
import { ERROR_CODES, SockhuntError, isSockhuntError } from '../core/errors.js';
import { type Command, type CommandIo, commandHelp, parseCommandArgs } from './commands/command.js';
import { snapshotCommand } from './commands/snapshot.js';
import { learnCommand } from './commands/learn.js';
import { huntCommand } from './commands/hunt.js';
import { baselineCommand } from './commands/baseline.js';
import { installCommand, uninstallCommand } from './commands/install.js';
import { agentCommand } from './commands/agent.js';
import { serverCommand } from './commands/server.js';
import { upCommand } from './commands/up.js';
import { escapeForTerminal } from '../core/escape.js';

declare const SOCKHUNT_VERSION: string;
declare const SOCKHUNT_COMMIT: string;

export const VERSION = typeof SOCKHUNT_VERSION === 'string' ? SOCKHUNT_VERSION : '0.0.0-dev';
export const COMMIT = typeof SOCKHUNT_COMMIT === 'string' ? SOCKHUNT_COMMIT : 'dev';

const COMMANDS: Command[] = [
  snapshotCommand,
  learnCommand,
  huntCommand,
  baselineCommand,
  agentCommand,
  serverCommand,
  upCommand,
  installCommand,
  uninstallCommand,
];

function mainHelp(): string {
  const list = COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join('\n');
  return `sockhunt ${VERSION}: hunt for unusual network connections.

Usage: sockhunt <command> [options]

Commands:
${list}

Run \`sockhunt <command> --help\` for a command's options. Exit codes: 0 ok, 1 findings at or above
--fail-on, 2 usage or input error, 3 runtime failure.
`;
}

function defaultIo(): CommandIo {
  const columns = process.stdout.isTTY ? Math.min(200, Math.max(80, process.stdout.columns || 120)) : 120;
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    columns,
    isTTY: process.stdout.isTTY === true,
  };
}

export async function main(argv: string[], io: CommandIo = defaultIo()): Promise<number> {
  // `sockhunt snapshot | head` closes our stdout early: that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(mainHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    io.out(`sockhunt ${VERSION} (${COMMIT}) node ${process.versions.node} ${process.platform}-${process.arch}\n`);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  try {
    if (!cmd) throw new SockhuntError('SOCKHUNT_E_USAGE', `unknown command ${JSON.stringify(name)} (see \`sockhunt --help\`)`);
    const { values, positionals } = parseCommandArgs(cmd, rest);
    if (values.help) {
      io.out(commandHelp(cmd));
      return 0;
    }
    return await cmd.run(values, positionals, io);
  } catch (err) {
    return reportError(err, io);
  }
}

function reportError(err: unknown, io: CommandIo): number {
  if (isSockhuntError(err)) {
    // Our own messages may span lines; each line is escaped. Of the cause, only its first line adds anything.
    const causeLine = err.cause instanceof Error ? err.cause.message.split('\n')[0]! : '';
    const cause = causeLine && !/^[[{]/.test(causeLine) && !err.message.includes(causeLine) ? `: ${causeLine}` : '';
    const text = `${err.message}${cause}`.split('\n').map(escapeForTerminal).join('\n');
    io.err(`sockhunt: ${text} [${err.code}]\n`);
    return ERROR_CODES[err.code].exit;
  }
  const e = err as Error;
  io.err(`sockhunt: unexpected failure: ${escapeForTerminal(e?.stack ?? String(err))} [SOCKHUNT_E_RUNTIME]\n`);
  return 3;
}
