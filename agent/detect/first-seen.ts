// Rare / first-seen destinations: a process reaches a network or port it never used while learning, or a process
// that never networked starts to. Long-lived connections to such external destinations weigh more.
import type { Connection } from '../../collectors/types.js';
import type { Detector, FindingDraft, ProcessKey } from './types.js';
import { clamp01 } from '../../core/risk.js';
import { isLoopback, networkOf } from '../../core/ip.js';
import { attributionShare, baselineState, rowAttribution, type Attribution } from './scoring.js';
import { formatSpan, makeDraft, processEvidence } from './drafts.js';
import { socketAge } from './pairs.js';
import { endpointLabel, isInternal, isNonUnicast, isOutbound } from './net.js';
import { familyOf, processLabel } from './families.js';

export type FirstSeenParams = {
  minScore: number;
  longLivedMs: number;
  browserFactor: number;
};

type Novelty = 'new-process' | 'new-network-and-port' | 'new-network' | 'new-port' | 'new-address';

const NOVELTY_SCORE: Record<Novelty, number> = {
  'new-process': 0.5,
  'new-network-and-port': 0.45,
  'new-network': 0.35,
  'new-port': 0.3,
  'new-address': 0.1,
};

export const firstSeen: Detector<FirstSeenParams> = {
  spec: {
    id: 'first-seen',
    name: 'First-seen destination',
    technique: [{ id: 'T1071', name: 'Application Layer Protocol' }],
    description:
      'A process connects to a network (/24, /48) or remote port it never used in the baseline, or a process that ' +
      'never networked starts to. External destinations and long-lived connections (hours) score higher.',
    references: ['https://attack.mitre.org/techniques/T1071/', 'https://attack.mitre.org/tactics/TA0011/'],
    params: {
      minScore: { type: 'number', default: 0.35, min: 0, max: 1, description: 'Report deviations scoring at least this.' },
      longLivedMs: {
        type: 'number',
        default: 3_600_000,
        min: 1,
        description: 'A connection open this long to a new external destination scores higher (rising until 4x this).',
      },
      browserFactor: {
        type: 'number',
        default: 0.5,
        min: 0,
        max: 1,
        description: 'Score multiplier for web browsers, whose job is reaching new destinations.',
      },
    },
  },

  detect(ctx, params) {
    const state = baselineState(ctx.baseline);
    const candidates: Array<{ row: Connection; key: ProcessKey; attribution: Attribution; age: number | null }> = [];
    for (const e of ctx.started) {
      if (e.processKey !== null) candidates.push({ row: e.row, key: e.processKey, attribution: e.attribution, age: null });
    }
    for (const row of ctx.rows) {
      if (!isOutbound(row)) continue;
      // most sockets are younger than longLivedMs by the loop's own tracking: no key needed to know that
      const tracked = ctx.ageOf?.(row);
      if (tracked !== undefined && tracked !== null && tracked < params.longLivedMs) continue;
      const key = ctx.keyOf(row);
      if (key === null) continue;
      const age = socketAge(ctx, row, key);
      if (age !== null && age >= params.longLivedMs) candidates.push({ row, key, attribution: rowAttribution(row), age });
    }

    const best = new Map<string, FindingDraft>();
    for (const { row, key, attribution, age } of candidates) {
      if (!isOutbound(row)) continue;
      const { ip, port } = row.destination;
      const transport = row.network.transport;
      if (isLoopback(ip) || isNonUnicast(ip) || port === 0) continue;
      if (ctx.baseline.isAllowed(key, ip, port, transport)) continue;
      if (ctx.baseline.hasEndpoint(key, ip, port, transport)) continue;

      let novelty: Novelty;
      if (state === 'empty' || !ctx.baseline.hasProcess(key)) novelty = 'new-process';
      else {
        const net = ctx.baseline.hasNetwork(key, ip);
        const prt = ctx.baseline.hasPort(key, port, transport);
        novelty = !net && !prt ? 'new-network-and-port' : !net ? 'new-network' : !prt ? 'new-port' : 'new-address';
      }
      const internal = isInternal(ip, ctx.host.internalNetworks);
      const longLived = !internal && age !== null && age >= params.longLivedMs;
      let score = NOVELTY_SCORE[novelty] + (internal ? 0 : 0.15);
      if (longLived) score += 0.15 + 0.1 * clamp01((age - params.longLivedMs) / (3 * params.longLivedMs));
      if (familyOf(row)?.id === 'browser') score *= params.browserFactor;
      // with nothing learned every destination is "first seen": it says little
      if (state === 'empty') score *= 0.6;
      if (score < params.minScore) continue;

      const dest = endpointLabel(ip, port, transport);
      const starts = ctx.history.starts(key, ip, port, transport);
      const domain = ctx.domainOf?.(ip) ?? undefined;
      const what =
        novelty === 'new-process'
          ? state === 'empty'
            ? 'baseline is empty'
            : 'process never networked while learning'
          : `${novelty.replace(/-/g, ' ')} for this process`;
      const draft = makeDraft(firstSeen.spec, {
        processKey: key,
        row,
        destination: domain ? { ip, port, domain } : { ip, port },
        score,
        confidence: {
          attribution: attributionShare([attribution]),
          evidence: longLived || starts.length >= 3 || row.socket.state === 'ESTABLISHED' ? 1 : 0.5,
          baseline: state,
          cap: state === 'empty' ? 'Low' : state === 'thin' ? 'Medium' : undefined,
        },
        recommendedAction:
          `Confirm that ${processLabel(row)} (${row.process.executable ?? 'unknown path'}, parent ` +
          `${row.process.parent.name ?? 'unknown'}) is expected to reach ${dest}${domain ? ` (${domain})` : ''}: check ` +
          `who deployed or changed it and the destination's reputation. If expected, allow it (sockhunt baseline allow); ` +
          `if not, block egress to ${ip} and review the process.`,
        evidence: [
          {
            summary:
              `${processLabel(row)} → ${dest}${domain ? ` (${domain})` : ''}, ${internal ? 'internal' : 'external'}: ` +
              `${what}${longLived ? `; open for ${formatSpan(age)}` : ''}`,
            process: processEvidence(row, key),
            destination: { ip, port, transport, internal, network: networkOf(ip) ?? ip, domain: domain ?? null },
            novelty,
            baseline: state,
            connection: { state: row.socket.state, age_ms: age, starts_in_window: starts.length, attribution },
          },
        ],
        dedupeGroup: `${networkOf(ip) ?? ip}:${port}/${transport}`,
      });
      const groupKey = `${key}|${draft.dedupeGroup}`;
      const prev = best.get(groupKey);
      if (!prev || prev.score < draft.score) best.set(groupKey, draft);
    }
    return [...best.values()];
  },
};
