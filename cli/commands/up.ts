// `sockhunt up`: the embedded default — a local server and a local agent streaming to it, page on 127.0.0.1.
// Both run as child processes of this one (the same binary or CLI), so each keeps its own failure handling and
// logs; this process prefixes their lines, stops both on Ctrl-C, and stops the other when one dies.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { singleBinaryPath } from '../../core/native.js';
import { parseDuration } from '../../core/duration.js';
import { SockhuntError } from '../../core/errors.js';
import { escapeForTerminal } from '../../core/escape.js';
import type { Command, CommandIo } from './command.js';
import { stopSignal } from './runtime.js';

const STOP_GRACE_MS = 5000;

/** How to run this same program again: the single binary, or node with the CLI entry. */
function selfCommand(): string[] {
  return singleBinaryPath() !== null ? [process.execPath] : [process.execPath, ...process.execArgv, process.argv[1]!];
}

function pipeLines(child: ChildProcess, name: string, io: CommandIo, onLine?: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      onLine?.(line);
      io.err(`[${name}] ${escapeForTerminal(line)}\n`);
    });
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export const upCommand: Command = {
  name: 'up',
  summary: 'Run a local server and a local agent streaming to it, with the page on 127.0.0.1 (the embedded default).',
  usage: 'sockhunt up [--listen 127.0.0.1:8700] [--learn-for 10m] [--config FILE]',
  options: {
    listen: { type: 'string', description: 'where the server and page listen (default 127.0.0.1:8700)', valueName: 'HOST:PORT' },
    'learn-for': { type: 'string', description: 'how long the agent learns before it hunts (default 10m; time already learned counts)', valueName: 'DURATION' },
    config: { type: 'string', description: 'agent settings, YAML or JSON', valueName: 'FILE' },
  },
  async run(values, _positionals, io) {
    const listen = (values.listen as string | undefined) ?? '127.0.0.1:8700';
    const learnFor = (values['learn-for'] as string | undefined) ?? '10m';
    parseDuration(learnFor, '--learn-for');
    const m = /^(.*):(\d{1,5})$/.exec(listen);
    if (!m) throw new SockhuntError('SOCKHUNT_E_USAGE', `--listen takes HOST:PORT, not ${JSON.stringify(listen)}`);
    const host = m[1] === '' || m[1] === '0.0.0.0' || m[1] === '::' ? '127.0.0.1' : m[1]!.replace(/^\[|\]$/g, '');
    const url = `${host.includes(':') ? `[${host}]` : host}:${m[2]}`;
    // Fresh secrets each run: the agent keeps the token it enrolled with, the server replaces the stored hashes.
    const enrollSecret = randomBytes(24).toString('base64url');
    const apiToken = randomBytes(24).toString('base64url');
    const self = selfCommand();
    const env = { ...process.env, SOCKHUNT_ENROLL_SECRET: enrollSecret, SOCKHUNT_API_TOKEN: apiToken };
    const stop = stopSignal();

    const server = spawn(self[0]!, [...self.slice(1), 'server', '--listen', listen], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const listening = new Promise<boolean>((resolve) => {
      pipeLines(server, 'server', io, (line) => {
        if (/listening/i.test(line)) resolve(true);
      });
      server.once('exit', () => resolve(false));
      setTimeout(() => resolve(server.exitCode === null), 15_000);
    });
    if (!(await listening)) {
      await stopChild(server);
      stop.dispose();
      throw new SockhuntError('SOCKHUNT_E_RUNTIME', `the server did not start on ${listen} (see its lines above)`);
    }
    const agentArgs = ['agent', '--server', `ws://${url}`, '--learn-for', learnFor];
    if (typeof values.config === 'string') agentArgs.push('--config', values.config);
    const agent = spawn(self[0]!, [...self.slice(1), ...agentArgs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    pipeLines(agent, 'agent', io);

    io.out(`sockhunt is up: page http://${url}/  API token (paste it into the page): ${apiToken}\n`);
    io.out(`the agent learns for ${learnFor}, then hunts; Ctrl-C stops both\n`);

    const firstExit = await new Promise<{ name: string; code: number | null }>((resolve) => {
      server.once('exit', (code) => resolve({ name: 'server', code }));
      agent.once('exit', (code) => resolve({ name: 'agent', code }));
      stop.signal.addEventListener('abort', () => resolve({ name: 'signal', code: 0 }), { once: true });
    });
    await Promise.all([stopChild(agent), stopChild(server)]);
    stop.dispose();
    if (firstExit.name === 'signal') return 0;
    io.err(`sockhunt up: the ${firstExit.name} stopped (exit ${firstExit.code}); stopped the other\n`);
    return 3;
  },
};
