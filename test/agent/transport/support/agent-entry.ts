// Runs `sockhunt agent …` from the sources (node --import tsx agent-entry.ts agent --server …), for tests that
// need real agent processes before the command is wired into cli/cli.ts. A test support entry, not a product
// switch. SOCKHUNT_TEST_TIMING (JSON) shortens the transport's timings.
import { agentCommand } from '../../../../cli/commands/agent.js';
import { commandHelp, parseCommandArgs } from '../../../../cli/commands/command.js';
import { ERROR_CODES, isSockhuntError } from '../../../../core/errors.js';

const [name, ...rest] = process.argv.slice(2);
const io = {
  out: (text: string) => void process.stdout.write(text),
  err: (text: string) => void process.stderr.write(text),
  columns: 120,
  isTTY: false,
};

async function run(): Promise<number> {
  if (name !== 'agent') {
    io.err('usage: agent-entry.ts agent [options]\n');
    return 2;
  }
  if (process.env.SOCKHUNT_TEST_TIMING) agentCommand.hooks = { timing: JSON.parse(process.env.SOCKHUNT_TEST_TIMING) };
  try {
    const { values, positionals } = parseCommandArgs(agentCommand, rest);
    if (values.help) {
      io.out(commandHelp(agentCommand));
      return 0;
    }
    return await agentCommand.run(values, positionals, io);
  } catch (err) {
    if (isSockhuntError(err)) {
      io.err(`sockhunt: ${err.message} [${err.code}]\n`);
      return ERROR_CODES[err.code].exit;
    }
    io.err(`sockhunt: unexpected failure: ${(err as Error)?.stack ?? String(err)} [SOCKHUNT_E_RUNTIME]\n`);
    return 3;
  }
}

process.exitCode = await run();
