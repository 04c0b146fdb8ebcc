import { createCollector } from '../../collectors/index.js';
import { AgentLoop } from '../../agent/loop.js';
import { parseDuration, formatDuration } from '../../core/duration.js';
import { configureDetectors } from '../../agent/detect/index.js';
import { escapeForTerminal } from '../../core/escape.js';
import { type Command } from './command.js';
import { SAMPLING_OPTIONS, openDestinationNames, openRuntime, stopSignal } from './runtime.js';

export const learnCommand: Command = {
  name: 'learn',
  summary: 'Sample the socket table and add what each process talks to into the baseline.',
  usage: 'sockhunt learn --for 10m [--interval 1s] [--db PATH] [--config FILE]',
  options: {
    for: { type: 'string', description: 'how long to learn (default 10m)', valueName: 'DURATION' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress line' },
    ...SAMPLING_OPTIONS,
  },
  async run(values, _positionals, io) {
    const durationMs = parseDuration((values.for as string | undefined) ?? '10m', '--for');
    const rt = openRuntime(values);
    const collector = await createCollector(rt.config.collector);
    const stop = stopSignal();
    let samples = 0;
    let sockets = 0;
    let errors = 0;
    const dnsNames = openDestinationNames(rt.config, (line) => {
      if (!values.quiet) io.err(`${line}\n`);
    });
    const loop = new AgentLoop({ collector, store: rt.store, config: rt.config, mode: 'learn', host: rt.host, detectors: configureDetectors(rt.config.detectors), dnsNames });
    const started = Date.now();
    const progress = (final = false): void => {
      if (values.quiet) return;
      const s = rt.store.baseline.summary();
      const line = `learning ${formatDuration(Date.now() - started)}/${formatDuration(durationMs)}: ${samples} samples, ${sockets} sockets, ${s.processes} processes, ${s.destinations.endpoint} destinations learned`;
      if (io.isTTY && !final) io.err(`\r${line}\u001b[K`);
      else if (final || samples % 60 === 1) io.err(`${io.isTTY ? '\r' : ''}${line}\n`);
    };
    try {
      await loop.run({
        durationMs,
        signal: stop.signal,
        onSample: (stats) => {
          samples++;
          sockets = stats.sockets;
          progress();
        },
        onError: (err) => {
          errors++;
          io.err(`${io.isTTY ? '\n' : ''}sockhunt: sample failed: ${escapeForTerminal((err as Error).message)}\n`);
        },
      });
      progress(true);
      io.out(`baseline: ${rt.dbPath}\n`);
      return errors > 0 && samples === 0 ? 3 : 0;
    } finally {
      stop.dispose();
      collector.close?.();
      dnsNames?.close();
      rt.store.close();
    }
  },
};
