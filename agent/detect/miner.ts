// T1496 Resource Hijacking: long-lived connections to mining-pool ports or pool domains, stratum URLs on the command
// line, raised by sustained high CPU of the owning process.
import type { Connection } from '../../collectors/types.js';
import type { Detector, FindingDraft, ProcessKey } from './types.js';
import { clamp01 } from '../../core/risk.js';
import { isLoopback } from '../../core/ip.js';
import { attributionShare, baselineState, rowAttribution, type Attribution } from './scoring.js';
import { formatSpan, makeDraft, processEvidence } from './drafts.js';
import { socketAge } from './pairs.js';
import { endpointLabel, isInternal, isNonUnicast, isOutbound } from './net.js';
import { processLabel } from './families.js';
import {
  FALCO_ATTRIBUTION,
  FALCO_MINER_DOMAINS,
  FALCO_MINER_PORTS,
  FALCO_STRATUM_MARKERS,
  SIGMA_POOL_LISTS,
} from '../data/miner-pools.js';
import { DRL } from '../data/attribution.js';

export type MinerParams = {
  minAgeMs: number;
  highCpuPercent: number;
  minScore: number;
  weakPorts: number[];
  extraPorts: number[];
  extraDomains: string[];
};

const MINER_PORTS = new Set(FALCO_MINER_PORTS);
const STRATUM = new RegExp(FALCO_STRATUM_MARKERS.map((m) => m.replace(/[+.]/g, '\\$&')).join('|'), 'i');

const markers = new Map<string, string | null>();

/** The stratum marker on a command line, lower case, or null; cached by command line (they repeat every sample). */
function stratumMarker(commandLine: string | null): string | null {
  if (commandLine === null) return null;
  let hit = markers.get(commandLine);
  if (hit === undefined) {
    hit = STRATUM.exec(commandLine)?.[0].toLowerCase() ?? null;
    if (markers.size >= 10_000) markers.clear();
    markers.set(commandLine, hit);
  }
  return hit;
}

interface DomainHit {
  domain: string;
  source: Record<string, unknown>;
}

function matchDomain(domain: string, extra: readonly string[]): DomainHit | null {
  const d = domain.toLowerCase().replace(/\.$/, '');
  const hit = (listed: string) => d === listed || d.endsWith(`.${listed}`);
  for (const l of SIGMA_POOL_LISTS) {
    const m = l.domains.find(hit);
    if (m) return { domain: m, source: { title: l.rule.title, id: l.rule.id, author: l.rule.author, url: l.rule.url, license: DRL } };
  }
  const f = FALCO_MINER_DOMAINS.find(hit);
  if (f) return { domain: f, source: { ...FALCO_ATTRIBUTION } };
  const e = extra.map((x) => x.toLowerCase()).find(hit);
  return e ? { domain: e, source: { source: 'site configuration (miner.extraDomains)' } } : null;
}

export const miner: Detector<MinerParams> = {
  spec: {
    id: 'miner',
    name: 'Crypto-mining pool connection',
    technique: [{ id: 'T1496', name: 'Resource Hijacking' }],
    description:
      'Long-lived connection to a stratum/mining-pool port (Falco miner_ports) or a pool domain (Sigma and Falco ' +
      'lists), or a stratum URL on the command line; sustained high CPU of the owning process raises the score.',
    references: [
      'https://attack.mitre.org/techniques/T1496/',
      ...SIGMA_POOL_LISTS.map((l) => l.rule.url),
      FALCO_ATTRIBUTION.url,
    ],
    params: {
      minAgeMs: { type: 'number', default: 600_000, min: 1, description: 'A pool-port connection open this long counts as sustained.' },
      highCpuPercent: {
        type: 'number',
        default: 50,
        min: 0,
        description: 'CPU use of the owning process (% of one core) that counts as mining load.',
      },
      minScore: { type: 'number', default: 0.45, min: 0, max: 1, description: 'Report connections scoring at least this.' },
      weakPorts: {
        type: 'number[]',
        default: [25, 80, 443, 8000, 8001, 8008, 8080, 8118, 8333, 8888, 9999],
        min: 1,
        max: 65535,
        description: 'Miner-list ports that ordinary services also use: they only add to other indicators.',
      },
      extraPorts: { type: 'number[]', default: [], min: 1, max: 65535, description: 'Additional pool ports.' },
      extraDomains: { type: 'string[]', default: [], description: 'Additional pool domains (subdomains match).' },
    },
  },

  detect(ctx, params) {
    const state = baselineState(ctx.baseline);
    const drafts = new Map<string, FindingDraft>();
    // sockets of the sample first (they have an age), then connections that started and are already gone
    const { rows, started } = ctx;
    for (let i = 0; i < rows.length + started.length; i++) {
      const e = i < rows.length ? null : started[i - rows.length]!;
      const row: Connection = e ? e.row : rows[i]!;
      if (!isOutbound(row) || row.network.transport !== 'tcp') continue;
      const { ip, port } = row.destination;
      const onList = MINER_PORTS.has(port) || params.extraPorts.includes(port);
      const strongPort = onList && !params.weakPorts.includes(port);
      const marker = stratumMarker(row.process.command_line);
      const domain = ctx.domainOf?.(ip) ?? null;
      const domainHit = domain ? matchDomain(domain, params.extraDomains) : null;
      if (!domainHit && !strongPort && !marker) continue;
      const key: ProcessKey | null = e ? e.processKey : ctx.keyOf(row);
      if (key === null) continue;
      const attribution: Attribution = e ? e.attribution : rowAttribution(row);
      const id = `${key}|${ip}|${port}`;
      if (drafts.has(id)) continue;
      if (isLoopback(ip) || isNonUnicast(ip) || ctx.baseline.isAllowed(key, ip, port, 'tcp')) continue;

      const age = socketAge(ctx, row, key);
      const cpu = row.process.pid !== null ? ctx.host.processCpu.get(row.process.pid) ?? null : null;
      const sustained = age !== null && age >= params.minAgeMs;
      const busy = cpu !== null && cpu >= params.highCpuPercent;
      let score = Math.max(domainHit ? 0.6 : 0, marker ? 0.45 : 0, strongPort ? 0.3 : 0);
      if (onList && (domainHit || marker)) score += 0.05;
      if (sustained) score += 0.1 + 0.1 * clamp01((age - params.minAgeMs) / (2 * params.minAgeMs));
      if (busy) score += 0.2 + 0.1 * clamp01((cpu - params.highCpuPercent) / 100);
      if (isInternal(ip, ctx.host.internalNetworks)) score -= 0.1;
      if (ctx.baseline.hasEndpoint(key, ip, port, 'tcp')) score -= 0.15;
      if (score < params.minScore) continue;

      const dest = endpointLabel(ip, port, 'tcp');
      const why = [
        domainHit ? `pool domain ${domain} (list entry ${domainHit.domain})` : null,
        strongPort ? `pool port ${port}` : onList ? `port ${port} on the miner port list` : null,
        marker ? `"${marker}" on the command line` : null,
        sustained ? `open ${formatSpan(age)}` : null,
        cpu !== null ? `CPU ${Math.round(cpu)}%` : null,
      ].filter(Boolean);
      drafts.set(
        id,
        makeDraft(miner.spec, {
          processKey: key,
          row,
          destination: domain ? { ip, port, domain } : { ip, port },
          score,
          confidence: {
            attribution: attributionShare([attribution]),
            evidence: (domainHit || marker ? 0.5 : 0) + (sustained ? 0.25 : 0) + (busy ? 0.5 : 0),
            baseline: state,
          },
          recommendedAction:
            `Confirm whether ${processLabel(row)} (${row.process.executable ?? 'unknown path'}) is sanctioned mining; if ` +
            `not, kill it, remove its binary and persistence (cron, systemd units, ~/.config autostart), block ${dest}` +
            `${domain ? ` and ${domain}` : ''} at the egress firewall, and look for the initial access (exposed services, ` +
            `leaked credentials).`,
          evidence: [
            {
              summary: `${processLabel(row)} → ${dest}: ${why.join('; ')}`,
              process: processEvidence(row, key),
              destination: { ip, port, domain },
              indicators: {
                domain_match: domainHit?.domain ?? null,
                port_on_list: onList,
                strong_port: strongPort,
                command_line_marker: marker,
                connection_age_ms: age,
                cpu_percent: cpu,
              },
            },
            ...(domainHit ? [{ pool_list: domainHit.source }] : []),
            ...(onList || marker ? [{ port_and_marker_lists: { ...FALCO_ATTRIBUTION } }] : []),
          ],
        }),
      );
    }
    return [...drafts.values()];
  },
};
