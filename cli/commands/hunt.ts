import { createCollector } from '../../collectors/index.js';
import { AgentLoop } from '../../agent/loop.js';
import { parseDuration } from '../../core/duration.js';
import { configureDetectors } from '../../agent/detect/index.js';
import type { FindingDoc } from '../../core/finding.js';
import { formatHuntReport } from '../report.js';
import { parseRisk, riskAtLeast } from '../../core/risk.js';
import type { Risk } from '../../agent/detect/types.js';
import { escapeForTerminal, safeJson } from '../../core/escape.js';
import { type Command, enumOption } from './command.js';
import { SAMPLING_OPTIONS, openDestinationNames, openRuntime, stopSignal } from './runtime.js';

export const huntCommand: Command = {
  name: 'hunt',
  summary: 'Sample the socket table, compare it with the baseline and report findings.',
  usage: 'sockhunt hunt --for 5m [--format text|json|ndjson] [--fail-on RISK] [--db PATH] [--config FILE]',
  options: {
    for: { type: 'string', description: 'how long to hunt (default 5m)', valueName: 'DURATION' },
    format: { type: 'string', short: 'f', description: 'text (default: hunt report blocks), json (one array at the end) or ndjson', valueName: 'FORMAT' },
    'fail-on': { type: 'string', description: 'exit 1 when a finding at this risk or above appears (low, medium, high, critical)', valueName: 'RISK' },
    quiet: { type: 'boolean', short: 'q', description: 'no progress or summary on stderr' },
    ...SAMPLING_OPTIONS,
  },
  async run(values, _positionals, io) {
    const durationMs = parseDuration((values.for as string | undefined) ?? '5m', '--for');
    const format = enumOption(values.format, 'format', ['text', 'json', 'ndjson'] as const, 'text');
    const failOn: Risk | null = typeof values['fail-on'] === 'string' ? parseRisk(values['fail-on']) : null;
    const rt = openRuntime(values);
    const detectors = configureDetectors(rt.config.detectors);
    const collector = await createCollector(rt.config.collector);
    const say = (text: string): void => {
      if (!values.quiet) io.err(text);
    };
    const dnsNames = openDestinationNames(rt.config, (line) => say(`${line}\n`));
    const loop = new AgentLoop({ collector, store: rt.store, config: rt.config, mode: 'hunt', host: rt.host, detectors, dnsNames });
    const stop = stopSignal();
    if (rt.store.baseline.summary().processes === 0) {
      say('sockhunt: the baseline is empty, so every destination is new: first-seen findings get low confidence. Run `sockhunt learn --for 10m` first for fewer, surer findings.\n');
    }
    const latest = new Map<string, FindingDoc>();
    const printed = new Map<string, string>();
    let updates = 0;
    let failures = 0;
    let droppedSaid = false;
    try {
      await loop.run({
        durationMs,
        signal: stop.signal,
        onSample: (stats) => {
          for (const { doc, isNew } of stats.findings) {
            latest.set(doc.event.id, doc);
            // A repeat is printed again only when what it says changes (risk, confidence, techniques).
            const signature = `${doc.hunt.risk}|${doc.hunt.confidence}|${doc.threat.technique.map((t) => t.id).join(',')}`;
            const changed = printed.get(doc.event.id) !== signature;
            printed.set(doc.event.id, signature);
            if (!isNew) updates++;
            if (!changed) continue;
            if (format === 'text') io.out(`${formatHuntReport(doc)}\n`);
            else if (format === 'ndjson') io.out(`${safeJson(doc)}\n`);
          }
          for (const e of stats.detectorErrors) say(`sockhunt: detector ${e.detector} failed on this sample: ${escapeForTerminal(String((e.error as Error)?.message ?? e.error))}\n`);
          if (stats.namesDropped && !droppedSaid) {
            droppedSaid = true;
            say(`sockhunt: DNS answers were dropped by the kernel before they were read (a busy resolver): some destinations may lack their name\n`);
          }
          if (stats.namesError !== undefined) say(`sockhunt: reading DNS answers failed (names already known are kept): ${escapeForTerminal(String((stats.namesError as Error)?.message ?? stats.namesError))}\n`);
        },
        onError: (err) => {
          failures++;
          say(`sockhunt: sample failed: ${escapeForTerminal((err as Error).message)}\n`);
        },
      });
    } finally {
      stop.dispose();
      collector.close?.();
      dnsNames?.close();
      rt.store.close();
    }
    const docs = [...latest.values()];
    if (format === 'json') io.out(`${safeJson(docs, 2)}\n`);
    say(`sockhunt: ${docs.length} finding${docs.length === 1 ? '' : 's'} (${updates} repeat${updates === 1 ? '' : 's'} folded into them)${failures ? `, ${failures} failed samples` : ''}\n`);
    if (failOn && docs.some((d) => riskAtLeast(d.hunt.risk, failOn))) return 1;
    return 0;
  },
};
