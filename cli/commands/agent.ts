// `sockhunt agent`: learn for a while, then hunt without end; every new or updated finding goes into the outbox
// in the transaction that records it, and the transport streams the outbox to the server.
import { createCollector } from '../../collectors/index.js';
import type { Collector, Connection } from '../../collectors/types.js';
import { AgentLoop } from '../../agent/loop.js';
import { formatDuration, parseDuration } from '../../core/duration.js';
import { configureDetectors } from '../../agent/detect/index.js';
import { escapeForTerminal } from '../../core/escape.js';
import { SockhuntError } from '../../core/errors.js';
import { HostInfo } from '../../agent/host-info.js';
import { LiveResponder } from '../../agent/live-response.js';
import { AgentTransport, type TransportTiming } from '../../agent/transport/session.js';
import { parseServerTarget } from '../../agent/transport/target.js';
import { normaliseAllowRule } from '../../core/allow.js';
import { AgentIdentityStore, protectDatabaseFiles } from '../../store/agent/identity.js';
import { Outbox, type OutboxOptions } from '../../store/agent/outbox.js';
import type { AgentStore } from '../../store/agent/index.js';
import type { AllowRuleWire } from '../../core/protocol.js';
import { type Command } from './command.js';
import type { DnsNames } from '../../collectors/dns-names.js';
import { SAMPLING_OPTIONS, openDestinationNames, openRuntime, stopSignal } from './runtime.js';

declare const SOCKHUNT_VERSION: string;
const VERSION = typeof SOCKHUNT_VERSION === 'string' ? SOCKHUNT_VERSION : '0.0.0-dev';

/** How long the agent waits on SIGTERM/SIGINT for the server to ack what is queued. */
export const FLUSH_ON_STOP_MS = 2000;

/** Settings of the outbox, read from the configuration's `outbox` section when it has one. */
function outboxOptions(config: unknown): OutboxOptions {
  const section = (config as { outbox?: { max_rows?: unknown; max_bytes?: unknown } }).outbox;
  const out: OutboxOptions = {};
  if (typeof section?.max_rows === 'number') out.maxRows = section.max_rows;
  if (typeof section?.max_bytes === 'number') out.maxBytes = section.max_bytes;
  return out;
}

export interface AgentRunHooks {
  /** Transport timings (tests shorten them); the product uses the defaults. */
  timing?: Partial<TransportTiming>;
}

export const agentCommand: Command & { hooks?: AgentRunHooks } = {
  name: 'agent',
  summary: 'Run continuously: learn, then hunt, and stream findings to a sockhunt server (store-and-forward).',
  usage: 'sockhunt agent --server wss://HOST:PORT --enroll-secret SECRET [--learn-for 24h] [--ca FILE | --pin sha256/BASE64] [--insecure] [--db PATH] [--config FILE] [--interval 1s]',
  options: {
    server: { type: 'string', description: 'the sockhunt server: wss://HOST:PORT (ws:// only to a loopback address, or with --insecure)', valueName: 'URL' },
    'enroll-secret': {
      type: 'string',
      description: 'the fleet enroll secret, needed until this agent has a token (or set SOCKHUNT_ENROLL_SECRET)',
      valueName: 'SECRET',
    },
    'learn-for': { type: 'string', description: 'learn the baseline this long before hunting (default 24h; 0s hunts at once; time already learned counts)', valueName: 'DURATION' },
    ca: { type: 'string', description: 'PEM file of the CA (or the certificate) that signed the server certificate', valueName: 'FILE' },
    pin: { type: 'string', multiple: true, description: 'trust the server certificate with this SHA-256 (of its DER or public key), base64; repeatable', valueName: 'sha256/BASE64' },
    insecure: { type: 'boolean', description: 'allow plain ws:// to a host that is not loopback (findings and secret in clear text)' },
    quiet: { type: 'boolean', short: 'q', description: 'log only problems, not every state change' },
    ...SAMPLING_OPTIONS,
  },
  async run(values, _positionals, io) {
    const target = parseServerTarget({ server: values.server, ca: values.ca, pin: values.pin, insecure: values.insecure });
    const learnForMs = parseDuration((values['learn-for'] as string | undefined) ?? '24h', '--learn-for');
    const secretText = (values['enroll-secret'] as string | undefined) ?? process.env.SOCKHUNT_ENROLL_SECRET ?? null;
    const enrollSecret = secretText === null || secretText === '' ? null : secretText;
    if (enrollSecret !== null && enrollSecret.length > 256) throw new SockhuntError('SOCKHUNT_E_USAGE', '--enroll-secret is longer than 256 characters');
    const quiet = values.quiet === true;
    const log = (line: string, important = false): void => {
      if (!quiet || important) io.err(`sockhunt agent: ${line}\n`);
    };
    if (target.insecure && target.url.protocol === 'ws:') log(`--insecure: findings go to ${target.origin} in clear text`, true);

    const rt = openRuntime(values);
    let collector: Collector | null = null;
    let liveCollector: Collector | null = null;
    let transport: AgentTransport | null = null;
    let dnsNames: DnsNames | null = null;
    const stop = stopSignal();
    try {
      protectDatabaseFiles(rt.dbPath);
      const identity = new AgentIdentityStore(rt.store.db);
      if (!identity.token(target.origin) && enrollSecret === null) {
        throw new SockhuntError('SOCKHUNT_E_USAGE', `this agent is not enrolled with ${target.origin} yet: give --enroll-secret (or SOCKHUNT_ENROLL_SECRET)`);
      }
      const outbox = new Outbox(rt.store.db, outboxOptions(rt.config));

      // Outbox drops are logged as they happen, at most once a minute with the sum.
      let droppedSinceLog = 0;
      let lastDropLog = 0;
      outbox.onEnqueue((dropped) => {
        if (dropped <= 0) return;
        droppedSinceLog += dropped;
        const now = Date.now();
        if (now - lastDropLog < 60_000) return;
        lastDropLog = now;
        log(`outbox full (${outbox.maxRows} rows / ${Math.round(outbox.maxBytes / 1048576)} MiB): dropped ${droppedSinceLog} lowest-risk finding${droppedSinceLog === 1 ? '' : 's'} (${outbox.dropped()} in all)`, true);
        droppedSinceLog = 0;
      });

      collector = await createCollector(rt.config.collector);
      let liveQueue: Promise<unknown> = Promise.resolve();
      const responder = new LiveResponder({
        store: rt.store,
        domainOf: (ip) => dnsNames?.lookup(ip, Date.now()) ?? null,
        // Its own collector, one snapshot at a time: the loop's collector keeps caches between its samples.
        sampleRows: () => {
          const next = liveQueue.then(async (): Promise<Connection[]> => {
            liveCollector ??= await createCollector(rt.config.collector);
            return liveCollector.sample({ netns: rt.config.netns });
          });
          liveQueue = next.catch(() => undefined);
          return next;
        },
      });
      const hostInfo = new HostInfo();
      transport = new AgentTransport({
        target,
        agentId: rt.host.id,
        version: VERSION,
        hostFacts: () => hostInfo.get(),
        identity,
        enrollSecret,
        outbox,
        applyAllow: (rules) => applyServerAllow(rt.store, rules, log),
        handleRequest: (req) => responder.handle(req),
        log: (line) => log(line, true),
        ...(agentCommand.hooks?.timing ? { timing: agentCommand.hooks.timing } : {}),
      });
      transport.start();

      const detectors = configureDetectors(rt.config.detectors);
      const learned = rt.store.baseline.summary().learningMs;
      const learnMs = Math.max(0, learnForMs - learned);
      dnsNames = openDestinationNames(rt.config, (line) => log(line.replace(/^sockhunt: /, ''), true));
      const loop = new AgentLoop({ collector, store: rt.store, sink: outbox, config: rt.config, mode: learnMs > 0 ? 'learn' : 'hunt', host: rt.host, detectors, dnsNames });
      let failures = 0;
      const onError = (err: unknown): void => {
        failures++;
        if (failures === 1 || failures % 100 === 0) log(`sample failed (${failures} so far): ${escapeForTerminal((err as Error)?.message ?? String(err))}`, true);
      };
      let namesFailures = 0;
      let namesDropped = 0;
      let dropsSaidAt = -Infinity;
      const onSample = (stats: { ts: number; detectorErrors: Array<{ detector: string; error: unknown }>; namesError?: unknown; namesDropped?: number }): void => {
        namesDropped += stats.namesDropped ?? 0;
        if (namesDropped > 0 && stats.ts - dropsSaidAt >= 600_000) {
          dropsSaidAt = stats.ts;
          log(`${namesDropped} DNS answers dropped by the kernel before they were read (a busy resolver): some destinations may lack their name`, true);
          namesDropped = 0;
        }
        for (const e of stats.detectorErrors) log(`detector ${e.detector} failed on this sample: ${escapeForTerminal(String((e.error as Error)?.message ?? e.error))}`, true);
        if (stats.namesError !== undefined && (++namesFailures === 1 || namesFailures % 100 === 0)) {
          log(`reading DNS answers failed (${namesFailures} so far; names already known are kept): ${escapeForTerminal(String((stats.namesError as Error)?.message ?? stats.namesError))}`, true);
        }
      };
      if (learnMs > 0) {
        log(`learning for ${formatDuration(learnMs)}${learned > 0 ? ` (${formatDuration(learned)} already learned)` : ''}, then hunting`);
        await loop.run({ durationMs: learnMs, signal: stop.signal, onSample, onError });
      } else if (learnForMs > 0) {
        log(`the baseline already holds ${formatDuration(learned)} of learning: hunting`);
      }
      if (!stop.signal.aborted) {
        loop.mode = 'hunt';
        if (rt.store.baseline.summary().processes === 0) log('hunting with an empty baseline: every destination is new (first-seen findings get low confidence)');
        else log('hunting');
        await loop.run({ durationMs: Number.POSITIVE_INFINITY, signal: stop.signal, onSample, onError });
      }
      log(`stopping: ${outbox.pending()} finding${outbox.pending() === 1 ? '' : 's'} queued; waiting up to ${FLUSH_ON_STOP_MS / 1000} s for acks`);
      await transport.stop(FLUSH_ON_STOP_MS);
      const left = outbox.pending();
      log(`stopped: ${left} finding${left === 1 ? '' : 's'} kept in the outbox for the next start`);
      return 0;
    } finally {
      stop.dispose();
      if (transport && transport.state !== 'stopped') await transport.stop(0);
      collector?.close?.();
      (liveCollector as Collector | null)?.close?.();
      (dnsNames as DnsNames | null)?.close();
      rt.store.close();
    }
  },
};

/** The welcome's allow rules replace the server's; an invalid rule is skipped (and logged), the others apply. */
export function applyServerAllow(store: Pick<AgentStore, 'baseline'>, rules: readonly AllowRuleWire[], log: (line: string) => void): number {
  const valid: AllowRuleWire[] = [];
  let invalid = 0;
  for (const r of rules) {
    try {
      normaliseAllowRule({ process: r.process, destination: r.destination, port: r.port, transport: r.transport, source: 'server', comment: r.comment ?? null });
      valid.push(r);
    } catch {
      invalid++;
    }
  }
  if (invalid > 0) log(`skipped ${invalid} invalid allow rule${invalid === 1 ? '' : 's'} from the server`);
  return store.baseline.replaceAllow(
    'server',
    valid.map((r) => ({ process: r.process, destination: r.destination, port: r.port, transport: r.transport, comment: r.comment ?? null })),
  );
}
