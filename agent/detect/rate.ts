// Connection-rate spike: a process opens connections far above its learned rate over a sliding window. An absolute
// minimum keeps processes with tiny learned rates from alarming on a handful of connections.
import type { Transport } from '../../collectors/types.js';
import type { Detector, FindingDraft, ProcessKey } from './types.js';
import { clamp01 } from '../../core/risk.js';
import { isLoopback } from '../../core/ip.js';
import { attributionShare, baselineState, type Attribution } from './scoring.js';
import { makeDraft, processEvidence, representativeRow } from './drafts.js';
import { countInWindow, pairStarts } from './pairs.js';
import { endpointLabel, isInternal } from './net.js';
import { processLabel } from './families.js';

export type RateParams = {
  windowMs: number;
  minCount: number;
  unknownMinCount: number;
  factor: number;
  includeLoopback: boolean;
  authPorts: number[];
};

const T1498 = { id: 'T1498', name: 'Network Denial of Service' };
const T1110 = { id: 'T1110', name: 'Brute Force' };

interface Dest {
  ip: string;
  port: number;
  transport: Transport;
  count: number;
}

export const rate: Detector<RateParams> = {
  spec: {
    id: 'rate',
    name: 'Connection-rate spike',
    technique: [T1498, T1110],
    description:
      'A process opens connections far above its learned rate over a sliding window (flooding, brute force, mass ' +
      'mailing); a minimum absolute count applies so that idle processes do not alarm.',
    references: ['https://attack.mitre.org/techniques/T1498/', 'https://attack.mitre.org/techniques/T1110/'],
    params: {
      windowMs: { type: 'number', default: 60_000, min: 1000, description: 'Sliding window for counting connection starts.' },
      minCount: { type: 'integer', default: 30, min: 1, description: 'Fewest starts in the window that can be a spike.' },
      unknownMinCount: {
        type: 'integer',
        default: 120,
        min: 1,
        description: 'Fewest starts in the window for a process with no learned rate.',
      },
      factor: { type: 'number', default: 5, min: 1, description: 'Spike at this multiple of the learned rate.' },
      includeLoopback: { type: 'boolean', default: false, description: 'Count connections to loopback addresses.' },
      authPorts: {
        type: 'number[]',
        default: [21, 22, 23, 110, 143, 389, 445, 993, 995, 1433, 3306, 3389, 5432, 5900],
        min: 1,
        max: 65535,
        description: 'Ports of login services: a spike mostly to one of them is reported as brute force (T1110).',
      },
    },
  },

  detect(ctx, params) {
    const state = baselineState(ctx.baseline);
    const from = ctx.now - params.windowMs;
    // Count first, filter after: loopback and allowed destinations only lower a count, so a process whose raw
    // count is under its threshold (never below minCount) needs no further look and costs no allocation.
    const pairs = ctx.history.pairs();
    const raw = new Map<ProcessKey, number>();
    for (const p of pairs) {
      const count = countInWindow(pairStarts(ctx, p), from, ctx.now);
      if (count > 0) raw.set(p.processKey, (raw.get(p.processKey) ?? 0) + count);
    }
    const thresholdOf = (key: ProcessKey): number => {
      const learned = ctx.baseline.connectionRate(key);
      return learned === null
        ? Math.max(params.minCount, params.unknownMinCount)
        : Math.max(params.minCount, params.factor * ((learned * params.windowMs) / 60_000)); // as below, to the bit
    };
    const byKey = new Map<ProcessKey, Dest[]>();
    for (const [key, count] of raw) if (count >= thresholdOf(key)) byKey.set(key, []);
    if (byKey.size > 0) {
      for (const p of pairs) {
        const list = byKey.get(p.processKey);
        if (!list) continue;
        const count = countInWindow(pairStarts(ctx, p), from, ctx.now);
        if (count > 0) list.push({ ip: p.ip, port: p.port, transport: p.transport, count });
      }
    }
    for (const [key, dests] of byKey) {
      const kept = dests.filter(
        (d) => (params.includeLoopback || !isLoopback(d.ip)) && !ctx.baseline.isAllowed(key, d.ip, d.port, d.transport),
      );
      if (kept.reduce((s, d) => s + d.count, 0) < params.minCount) byKey.delete(key);
      else byKey.set(key, kept);
    }

    const drafts: FindingDraft[] = [];
    for (const [key, dests] of byKey) {
      const count = dests.reduce((s, d) => s + d.count, 0);
      const learned = ctx.baseline.connectionRate(key);
      const learnedInWindow = learned === null ? null : (learned * params.windowMs) / 60_000;
      const threshold =
        learnedInWindow === null
          ? Math.max(params.minCount, params.unknownMinCount)
          : Math.max(params.minCount, params.factor * learnedInWindow);
      if (count < threshold) continue;

      dests.sort((a, b) => b.count - a.count);
      const top = dests[0]!;
      const topShare = top.count / count;
      const brute = topShare >= 0.5 && top.transport === 'tcp' && params.authPorts.includes(top.port);
      const external = !isInternal(top.ip, ctx.host.internalNetworks) && !isLoopback(top.ip);
      const ratio = count / threshold;
      const score = 0.4 + 0.2 * clamp01(Math.log10(ratio)) + (brute ? 0.15 : 0) + (external ? 0.05 : 0);
      const row = representativeRow(ctx, key, top.ip, top.port, top.transport);
      const perMin = (count * 60_000) / params.windowMs;
      const dest = endpointLabel(top.ip, top.port, top.transport);
      drafts.push(
        makeDraft(rate.spec, {
          technique: [brute ? T1110 : T1498],
          processKey: key,
          row,
          score,
          confidence: {
            attribution: attributionShare(
              dests.flatMap((d) => {
                const events = ctx.history.events?.(key, d.ip, d.port, d.transport);
                if (!events) return Array<Attribution>(d.count).fill('socket');
                return events.filter((e) => e.ts > from && e.ts <= ctx.now).map((e) => e.attribution);
              }),
            ),
            evidence: clamp01(ratio / 2),
            baseline: learned === null ? (state === 'mature' ? 'thin' : state) : state,
          },
          recommendedAction: brute
            ? `${processLabel(row)} opened ${count} connections to the login service ${dest} in ` +
              `${Math.round(params.windowMs / 1000)}s: check the target's authentication logs for failures from this ` +
              `host, stop the process and review how it was started; rotate credentials if any login succeeded.`
            : `${processLabel(row)} opened ${count} connections in ${Math.round(params.windowMs / 1000)}s ` +
              `(${learned === null ? 'no learned rate' : `learned ${learned.toFixed(1)}/min`}): find out what drives the ` +
              `burst (command line ${row.process.command_line ?? 'unknown'}), throttle or stop it if it is not a known job, ` +
              `and check ${dest} and the other destinations for abuse reports.`,
          evidence: [
            {
              summary:
                `${processLabel(row)}: ${count} connections in ${Math.round(params.windowMs / 1000)}s ` +
                `(${Math.round(perMin)}/min vs learned ${learned === null ? 'none' : `${learned.toFixed(1)}/min`}), ` +
                `${dests.length} destinations, top ${dest} ${Math.round(topShare * 100)}%`,
              process: processEvidence(row, key),
              rate: {
                connections_in_window: count,
                window_ms: params.windowMs,
                per_min: Math.round(perMin * 10) / 10,
                learned_per_min: learned,
                threshold_in_window: Math.round(threshold * 10) / 10,
              },
              top_destinations: dests.slice(0, 5).map((d) => ({ endpoint: endpointLabel(d.ip, d.port, d.transport), count: d.count })),
            },
          ],
          dedupeGroup: brute ? `brute:${top.ip}:${top.port}` : 'rate',
        }),
      );
    }
    return drafts;
  },
};
