// T1071.004 / T1048.003: DNS used as a channel. A process that is not the system resolver talks to port 53 of a
// server that is not a configured resolver, keeps one DNS socket open for long (iodine-style tunnel), or sends DNS
// far above its learned rate (a fresh socket per query, a few per second).
import type { Connection, Transport } from '../../collectors/types.js';
import type { Detector, FindingDraft, ProcessKey } from './types.js';
import { clamp01 } from '../../core/risk.js';
import { isLoopback } from '../../core/ip.js';
import { attributionShare, baselineState, rowAttribution } from './scoring.js';
import { formatSpan, makeDraft, processEvidence, representativeRow } from './drafts.js';
import { countInWindow, pairStarts, socketAge } from './pairs.js';
import { endpointLabel, isInternal, isOutbound } from './net.js';
import { familyOf, isResolverProcess, processLabel } from './families.js';

export type DnsParams = {
  dnsPorts: number[];
  windowMs: number;
  minRatePerMin: number;
  rateFactor: number;
  longLivedMs: number;
  minScore: number;
  extraResolverNames: string[];
};

const T1071_004 = { id: 'T1071.004', name: 'Application Layer Protocol: DNS' };
const T1048_003 = { id: 'T1048.003', name: 'Exfiltration Over Unencrypted Non-C2 Protocol' };

interface ServerUse {
  ip: string;
  port: number;
  transport: Transport;
  row: Connection | null;
  /** 0–1, see attributionShare. */
  attribution: number;
  starts: number;
  age: number | null;
}

export const dns: Detector<DnsParams> = {
  spec: {
    id: 'dns',
    name: 'Suspicious DNS traffic',
    technique: [T1071_004, T1048_003],
    description:
      'A process that is not the system resolver sends DNS (port 53, UDP or TCP) to a server that is not a configured ' +
      'resolver, keeps a DNS socket open for long (one connected UDP socket to a tunnel endpoint), or sends DNS far ' +
      'above its learned rate.',
    references: [
      'https://attack.mitre.org/techniques/T1071/004/',
      'https://attack.mitre.org/techniques/T1048/003/',
    ],
    params: {
      dnsPorts: { type: 'number[]', default: [53], min: 1, max: 65535, description: 'Remote ports treated as DNS.' },
      windowMs: { type: 'number', default: 60_000, min: 1000, description: 'Window over which the DNS rate is measured.' },
      minRatePerMin: {
        type: 'number',
        default: 60,
        min: 1,
        description: 'DNS connections per minute below which no rate finding is made, whatever the baseline.',
      },
      rateFactor: { type: 'number', default: 10, min: 1, description: 'Rate finding at this multiple of the learned DNS rate.' },
      longLivedMs: {
        type: 'number',
        default: 60_000,
        min: 1,
        description: 'A DNS socket of a non-resolver process open this long is tunnel-like.',
      },
      minScore: { type: 'number', default: 0.4, min: 0, max: 1, description: 'Report findings scoring at least this.' },
      extraResolverNames: {
        type: 'string[]',
        default: [],
        description: 'Additional process names allowed to act as resolvers or forwarders.',
      },
    },
  },

  detect(ctx, params) {
    const state = baselineState(ctx.baseline);
    const resolvers = new Set(ctx.host.resolvers);
    const byProcess = new Map<ProcessKey, Map<string, ServerUse>>();
    const note = (key: ProcessKey, ip: string, port: number, transport: Transport, row: Connection | null, attribution: number) => {
      let servers = byProcess.get(key);
      if (!servers) byProcess.set(key, (servers = new Map()));
      const id = `${ip}|${port}|${transport}`;
      const s = servers.get(id) ?? { ip, port, transport, row: null, attribution, starts: 0, age: null };
      if (row && !s.row) {
        s.row = row;
        s.attribution = attribution;
      }
      if (row) {
        const age = socketAge(ctx, row, key);
        if (age !== null && (s.age === null || age > s.age)) s.age = age;
      }
      servers.set(id, s);
    };

    for (const row of ctx.rows) {
      if (!params.dnsPorts.includes(row.destination.port) || !isOutbound(row)) continue;
      const key = ctx.keyOf(row);
      if (key !== null) note(key, row.destination.ip, row.destination.port, row.network.transport, row, attributionShare([rowAttribution(row)]));
    }
    for (const e of ctx.started) {
      if (e.processKey !== null && isOutbound(e.row) && params.dnsPorts.includes(e.row.destination.port)) {
        note(e.processKey, e.row.destination.ip, e.row.destination.port, e.row.network.transport, e.row, attributionShare([e.attribution]));
      }
    }
    for (const p of ctx.history.pairs()) {
      if (!params.dnsPorts.includes(p.port)) continue;
      const n = countInWindow(pairStarts(ctx, p), ctx.now - params.windowMs);
      if (n === 0) continue;
      const events = ctx.history.events?.(p.processKey, p.ip, p.port, p.transport);
      note(p.processKey, p.ip, p.port, p.transport, null, events ? attributionShare(events.map((e) => e.attribution)) : 1);
      byProcess.get(p.processKey)!.get(`${p.ip}|${p.port}|${p.transport}`)!.starts = n;
    }

    const drafts: FindingDraft[] = [];
    for (const [key, servers] of byProcess) {
      const list = [...servers.values()];
      const rowOf = (s: ServerUse) => s.row ?? representativeRow(ctx, key, s.ip, s.port, s.transport);
      if (isResolverProcess(rowOf(list[0]!), params.extraResolverNames)) continue;

      const perMin = (list.reduce((s, x) => s + x.starts, 0) * 60_000) / params.windowMs;
      const learned = ctx.baseline.dnsRate(key);
      const rateThreshold = Math.max(params.minRatePerMin, learned !== null ? learned * params.rateFactor : 0);
      const rateHigh = perMin >= rateThreshold;
      const busiest = [...list].sort((a, b) => b.starts - a.starts)[0];

      for (const s of list) {
        if (ctx.baseline.isAllowed(key, s.ip, s.port, s.transport)) continue;
        const local = isLoopback(s.ip);
        const offResolver = !local && !resolvers.has(s.ip);
        const longLived = s.age !== null && s.age >= params.longLivedMs;
        const rate = rateHigh && s === busiest;
        if (!offResolver && !longLived && !rate) continue;

        const row = rowOf(s);
        const external = !local && !isInternal(s.ip, ctx.host.internalNetworks);
        let score = 0;
        if (offResolver) score = 0.45 + (external ? 0.1 : 0);
        if (longLived) score = score ? score + 0.25 : 0.45;
        if (rate) score = (score ? score + 0.25 : 0.45) + 0.1 * clamp01(Math.log10(perMin / rateThreshold));
        // lookup tools querying a chosen server are an administrator's everyday use
        if (familyOf(row)?.id === 'dns-tool') score *= 0.5;
        if (ctx.baseline.hasEndpoint(key, s.ip, s.port, s.transport) && !rate && !longLived) score -= 0.15;
        if (score < params.minScore) continue;

        const label = processLabel(row);
        const dest = endpointLabel(s.ip, s.port, s.transport);
        const why = [
          offResolver ? `server is not a configured resolver (${[...resolvers].join(', ') || 'none configured'})` : null,
          longLived ? `one DNS socket open for ${formatSpan(s.age!)}` : null,
          rate ? `${Math.round(perMin)} DNS connections/min (learned ${learned === null ? 'unknown' : learned.toFixed(1)}/min)` : null,
        ].filter(Boolean);
        drafts.push(
          makeDraft(dns.spec, {
            technique: rate || longLived ? [T1071_004, T1048_003] : [T1071_004],
            processKey: key,
            row,
            destination: { ip: s.ip, port: s.port },
            score,
            confidence: {
              attribution: s.attribution,
              evidence: longLived || rate ? 1 : s.starts >= 3 ? 1 : 0.5,
              baseline: state,
            },
            recommendedAction:
              `Inspect the DNS traffic of ${label} to ${dest}: capture a few queries (tcpdump -ni any port ${s.port} and host ` +
              `${s.ip}) and look for long random-looking labels or TXT/NULL records. If it is a tunnel, kill the process, ` +
              `block DNS to anything but the configured resolvers at the firewall, and search for how it was started ` +
              `(parent ${row.process.parent.name ?? 'unknown'}).`,
            evidence: [
              {
                summary: `${label} → ${dest} (${local ? 'loopback' : external ? 'external' : 'internal'}): ${why.join('; ')}`,
                process: processEvidence(row, key),
                destination: { ip: s.ip, port: s.port, transport: s.transport, resolver: resolvers.has(s.ip) },
                dns: {
                  connections_in_window: s.starts,
                  process_rate_per_min: Math.round(perMin * 10) / 10,
                  learned_rate_per_min: learned,
                  socket_age_ms: s.age,
                  window_ms: params.windowMs,
                },
              },
            ],
          }),
        );
      }
    }
    return drafts;
  },
};
