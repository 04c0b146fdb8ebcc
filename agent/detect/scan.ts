// T1046 Network Service Discovery: one process touching many hosts or many ports in a short window, many half-open
// (SYN_SENT) attempts, or — for scans whose sockets die between samples — the host's TCP failure counters.
import type { Connection, Transport } from '../../collectors/types.js';
import type { DetectContext, Detector, FindingDraft, HistoryPair, ProcessKey } from './types.js';
import { clamp01, riskFromScore, round3 } from '../../core/risk.js';
import { isLoopback } from '../../core/ip.js';
import { attributionShare, baselineState, type Attribution } from './scoring.js';
import { hostRow, makeDraft, processEvidence } from './drafts.js';
import { PAIR_ALLOWED, PAIR_KNOWN, PAIR_LOOPBACK, PAIR_NON_UNICAST, pairFacts, pairStarts } from './pairs.js';
import { isInternal, isNonUnicast } from './net.js';
import { processLabel } from './families.js';

export type ScanParams = {
  windowMs: number;
  minHosts: number;
  minPorts: number;
  minHalfOpen: number;
  minFailShare: number;
  minAttemptFailsPerSec: number;
  minOutRstsPerSec: number;
};

interface Target {
  ip: string;
  port: number;
  transport: Transport;
  halfOpen: boolean;
}

interface ProcessActivity {
  key: ProcessKey;
  row: Connection | null;
  targets: Map<string, Target>;
  attribution: Attribution[];
  startedThisSample: number;
  fromHistory: Array<{ ip: string; port: number; transport: Transport }>;
}

function collect(ctx: DetectContext, params: ScanParams): Map<ProcessKey, ProcessActivity> {
  const from = ctx.now - params.windowMs;
  const byKey = new Map<ProcessKey, ProcessActivity>();
  const get = (key: ProcessKey) => {
    let a = byKey.get(key);
    if (!a) byKey.set(key, (a = { key, row: null, targets: new Map(), attribution: [], startedThisSample: 0, fromHistory: [] }));
    return a;
  };
  const add = (key: ProcessKey, ip: string, port: number, transport: Transport, halfOpen: boolean) => {
    if (isLoopback(ip) || isNonUnicast(ip) || port === 0) return null;
    if (ctx.baseline.isAllowed(key, ip, port, transport) || ctx.baseline.hasEndpoint(key, ip, port, transport)) return null;
    const a = get(key);
    const id = `${ip}|${port}|${transport}`;
    const t = a.targets.get(id);
    if (t) t.halfOpen ||= halfOpen;
    else a.targets.set(id, { ip, port, transport, halfOpen });
    return a;
  };

  for (const e of ctx.started) {
    if (e.processKey === null || e.row.network.direction === 'ingress') continue;
    const a = add(e.processKey, e.row.destination.ip, e.row.destination.port, e.row.network.transport, e.row.socket.state === 'SYN_SENT');
    if (a) {
      a.row ??= e.row;
      a.attribution.push(e.attribution);
      a.startedThisSample++;
    }
  }
  for (const row of ctx.rows) {
    if (row.socket.state !== 'SYN_SENT' || row.network.transport !== 'tcp') continue;
    const key = ctx.keyOf(row);
    if (key === null) continue;
    const a = add(key, row.destination.ip, row.destination.port, 'tcp', true);
    if (a) {
      a.row ??= row;
      a.attribution.push('socket');
    }
  }

  // The window's history, for processes with enough recent destinations to reach a threshold: the filters in
  // add() only remove targets, so a process below the smallest threshold cannot become a scan.
  const recent = new Map<ProcessKey, HistoryPair[]>();
  for (const p of ctx.history.pairs()) {
    const starts = pairStarts(ctx, p);
    if (!(starts[starts.length - 1]! > from)) continue; // no start in the window (starts are oldest first)
    const list = recent.get(p.processKey);
    if (list) list.push(p);
    else recent.set(p.processKey, [p]);
  }
  const least = Math.min(params.minHosts, params.minPorts);
  for (const [key, pairs] of recent) {
    if (pairs.length + (byKey.get(key)?.targets.size ?? 0) < least) continue;
    for (const p of pairs) {
      // add()'s exclusions, answered from the per-pair cache
      if (p.port === 0 || pairFacts(ctx, p) & (PAIR_LOOPBACK | PAIR_NON_UNICAST | PAIR_KNOWN | PAIR_ALLOWED)) continue;
      if (add(key, p.ip, p.port, p.transport, false)) get(key).fromHistory.push(p);
    }
  }
  return byKey;
}

function dominant<T>(items: readonly T[]): { value: T; share: number } | null {
  const counts = new Map<T, number>();
  for (const i of items) counts.set(i, (counts.get(i) ?? 0) + 1);
  let best: { value: T; share: number } | null = null;
  for (const [value, n] of counts) if (!best || n / items.length > best.share) best = { value, share: n / items.length };
  return best;
}

export const scan: Detector<ScanParams> = {
  spec: {
    id: 'scan',
    name: 'Network scan',
    technique: [{ id: 'T1046', name: 'Network Service Discovery' }],
    description:
      'One process reaches many distinct hosts or ports within a short window, with many half-open (SYN_SENT) or ' +
      'failed attempts; host TCP counters (AttemptFails, OutRsts) reveal scans whose sockets die between samples. ' +
      'Internal targets mean internal reconnaissance and score higher.',
    references: ['https://attack.mitre.org/techniques/T1046/'],
    params: {
      windowMs: { type: 'number', default: 60_000, min: 1, description: 'Sliding window for distinct targets.' },
      minHosts: { type: 'integer', default: 20, min: 2, description: 'Distinct new hosts in the window (horizontal scan).' },
      minPorts: { type: 'integer', default: 15, min: 2, description: 'Distinct new ports on one host (vertical scan).' },
      minHalfOpen: { type: 'integer', default: 10, min: 2, description: 'Distinct half-open (SYN_SENT) targets at once.' },
      minFailShare: {
        type: 'number',
        default: 0.3,
        min: 0,
        max: 1,
        description: 'Share of half-open targets that makes a many-hosts pattern to external hosts a scan.',
      },
      minAttemptFailsPerSec: {
        type: 'number',
        default: 10,
        min: 0,
        description: 'Host-wide failed connection attempts per second (TCP AttemptFails) that indicate a scan.',
      },
      minOutRstsPerSec: {
        type: 'number',
        default: 50,
        min: 0,
        description: 'Host-wide resets sent per second (TCP OutRsts) that indicate a scan.',
      },
    },
  },

  detect(ctx, params) {
    const state = baselineState(ctx.baseline);
    const activity = collect(ctx, params);
    const drafts = new Map<ProcessKey | null, FindingDraft>();
    // traces the loop could not attribute (TIME_WAIT, conntrack) lower the confidence of whoever they are filed under
    const attributionOf = (a: ProcessActivity): Attribution[] => {
      const from = ctx.now - params.windowMs;
      const history = a.fromHistory.flatMap((p) => {
        const events = ctx.history.events?.(a.key, p.ip, p.port, p.transport);
        return events ? events.filter((e) => e.ts > from).map((e) => e.attribution) : ['socket' as const];
      });
      return [...a.attribution, ...history];
    };
    const rowOf = (a: ProcessActivity) => a.row ?? ctx.rows.find((r) => ctx.keyOf(r) === a.key) ?? hostRow(ctx, a.key);

    for (const a of activity.values()) {
      const targets = [...a.targets.values()];
      const hosts = new Set(targets.map((t) => t.ip));
      const portsByHost = new Map<string, Set<number>>();
      for (const t of targets) portsByHost.set(t.ip, (portsByHost.get(t.ip) ?? new Set()).add(t.port));
      const [topHost, topPorts] = [...portsByHost].reduce(
        (best, cur) => (cur[1].size > best[1].size ? cur : best),
        ['', new Set<number>()] as [string, Set<number>],
      );
      const halfOpen = targets.filter((t) => t.halfOpen).length;
      const failShare = targets.length ? halfOpen / targets.length : 0;
      const internalHosts = [...hosts].filter((ip) => isInternal(ip, ctx.host.internalNetworks)).length;
      const internalShare = hosts.size ? internalHosts / hosts.size : 0;

      const vertical = topPorts.size >= params.minPorts;
      const horizontal = hosts.size >= params.minHosts && (failShare >= params.minFailShare || internalShare >= 0.5);
      const halfOpenMany = halfOpen >= params.minHalfOpen;
      if (!vertical && !horizontal && !halfOpenMany) continue;

      const breadth = Math.max(hosts.size / params.minHosts, topPorts.size / params.minPorts, halfOpen / params.minHalfOpen);
      const internal = internalShare >= 0.5;
      // many ports on one host is never ordinary client behaviour, even when the connections complete
      const score =
        0.45 + 0.15 * clamp01(Math.log2(breadth) / 3) + 0.15 * failShare + (internal ? 0.2 : 0) + (vertical ? 0.15 : 0);
      const port = dominant(targets.map((t) => t.port));
      const portClass = port && port.share >= 0.5 ? String(port.value) : 'mixed';
      const kind = vertical && !horizontal ? 'vertical' : 'horizontal';
      const first = vertical && !horizontal ? targets.find((t) => t.ip === topHost)! : targets[0]!;
      const row = rowOf(a);
      const where = internal ? 'internal' : 'external';
      drafts.set(
        a.key,
        makeDraft(scan.spec, {
          processKey: a.key,
          row,
          destination: { ip: first.ip, port: kind === 'vertical' ? first.port : port && port.share >= 0.5 ? port.value : first.port },
          score,
          confidence: {
            attribution: attributionShare(attributionOf(a)),
            evidence: clamp01(breadth / 2),
            baseline: state,
          },
          recommendedAction:
            `Stop and examine ${processLabel(row)}: it ` +
            `${kind === 'vertical' ? `probed ${topPorts.size} ports on ${topHost}` : `reached ${hosts.size} ${where} hosts`} ` +
            `within ${Math.round(params.windowMs / 1000)}s. Confirm whether an authorised scanner or inventory job runs ` +
            `here; if not, isolate the host, capture the process (command line ${row.process.command_line ?? 'unknown'}, ` +
            `parent ${row.process.parent.name ?? 'unknown'}) and check the targets for follow-up connections.`,
          evidence: [
            {
              summary:
                `${processLabel(row)}: ${kind} scan of ${where} targets — ${hosts.size} hosts, up to ` +
                `${topPorts.size} ports on one host, ${halfOpen} half-open, in ${Math.round(params.windowMs / 1000)}s`,
              process: processEvidence(row, a.key),
              targets: {
                hosts: hosts.size,
                ports_on_top_host: topPorts.size,
                top_host: topHost,
                half_open: halfOpen,
                internal_share: Math.round(internalShare * 100) / 100,
                port_class: portClass,
                sample: targets.slice(0, 20).map((t) => `${t.ip}:${t.port}/${t.transport}`),
              },
              window_ms: params.windowMs,
            },
          ],
          dedupeGroup: `${kind}:${kind === 'vertical' ? topHost : where}:${portClass}`,
        }),
      );
    }

    const counters = ctx.host.tcpCounterDelta;
    if (counters) {
      const secs = (ctx.sampleIntervalMs ?? 1000) / 1000;
      const fails = counters.attemptFails / secs;
      const rsts = counters.outRsts / secs;
      const failRatio = fails / params.minAttemptFailsPerSec;
      const rstRatio = rsts / params.minOutRstsPerSec;
      if (failRatio >= 1 || rstRatio >= 1) {
        const counterEvidence = {
          host_tcp_counters: {
            attempt_fails_per_sec: Math.round(fails * 10) / 10,
            out_rsts_per_sec: Math.round(rsts * 10) / 10,
            active_opens_per_sec: Math.round((counters.activeOpens / secs) * 10) / 10,
          },
        };
        // attribute to the process with the most half-open or new internal targets in this sample
        const suspects = [...activity.values()]
          .map((a) => ({
            a,
            weight:
              [...a.targets.values()].filter((t) => t.halfOpen || isInternal(t.ip, ctx.host.internalNetworks)).length +
              a.startedThisSample,
          }))
          .filter((s) => s.weight > 0)
          .sort((x, y) => y.weight - x.weight);
        const suspect = suspects[0]?.a ?? null;
        const existing = suspect ? drafts.get(suspect.key) : undefined;
        const bump = 0.1 * clamp01(Math.log2(Math.max(failRatio, rstRatio)) / 3);
        if (existing) {
          existing.score = round3(clamp01(existing.score + 0.05 + bump));
          existing.risk = riskFromScore(existing.score);
          existing.evidence.push(counterEvidence);
        } else {
          const row = suspect ? rowOf(suspect) : hostRow(ctx);
          const who = suspect ? processLabel(row) : 'an unidentified process';
          drafts.set(
            suspect?.key ?? null,
            makeDraft(scan.spec, {
              processKey: suspect?.key ?? null,
              row,
              score: 0.4 + bump + (suspect ? 0.1 : 0),
              confidence: {
                // the counters are host-wide: tying them to a process is a correlation, worth half
                attribution: suspect ? attributionShare(attributionOf(suspect)) / 2 : 0,
                evidence: clamp01(Math.max(failRatio, rstRatio) / 2),
                baseline: state,
                // a host-level finding names no process: it is a lead, not a conclusion
                ...(suspect ? {} : { cap: 'Low' as const }),
              },
              recommendedAction:
                `The host is failing ${Math.round(fails)} connection attempts and sending ${Math.round(rsts)} resets per ` +
                `second, the signature of a scan whose sockets close before a sample sees them. Find the process ` +
                `(likely ${who}; raw-socket scanners such as nmap -sS own no TCP socket): run \`ss -tanp state syn-sent\` ` +
                `and check the process list for scanners; isolate the host if no authorised scan is running.`,
              evidence: [
                {
                  summary:
                    `${who}: host TCP counters show ${Math.round(fails)} failed attempts/s and ${Math.round(rsts)} ` +
                    `resets/s${suspect ? ' (attributed by its half-open and new internal targets)' : ' (no process attributed)'}`,
                  process: suspect ? processEvidence(row, suspect.key) : null,
                },
                counterEvidence,
              ],
              dedupeGroup: 'host-counters',
            }),
          );
        }
      }
    }
    return [...drafts.values()];
  },
};
