// T1571 Non-Standard Port: a client talks to a port that is not the usual one for what it is (an ssh client not on
// 22, curl on 4444), or any process calls back to a port of the Sigma malware call-back lists.
import type { Connection } from '../../collectors/types.js';
import type { Detector, FindingDraft, ProcessKey } from './types.js';
import { isLoopback } from '../../core/ip.js';
import { attributionShare, baselineState, rowAttribution, type Attribution } from './scoring.js';
import { makeDraft, processEvidence } from './drafts.js';
import { endpointLabel, isInternal, isNonUnicast, isOutbound } from './net.js';
import { familyOf, familyUsesPort, processLabel, type ProcessFamily } from './families.js';
import { C2_PORT_LISTS, type C2PortList } from '../data/c2-ports.js';
import { DRL } from '../data/attribution.js';

export type NonstandardPortParams = {
  minScore: number;
  extraC2Ports: number[];
  ignorePorts: number[];
};

// port → the list that names it, preferring a high-level list when a port is on several
const C2_BY_PORT = new Map<number, C2PortList>();
for (const level of ['medium', 'high']) {
  for (const l of C2_PORT_LISTS) if (l.rule.level === level) for (const p of l.ports) C2_BY_PORT.set(p, l);
}

// familyOf by (name, executable), across samples: the same processes are asked about every sample
const familyCache = new Map<string | null, Map<string | null, ProcessFamily | null>>();
let familyCacheSize = 0;

function cachedFamilyOf(row: Connection): ProcessFamily | null {
  const { name, executable } = row.process;
  let byExe = familyCache.get(name);
  if (!byExe) familyCache.set(name, (byExe = new Map()));
  let family = byExe.get(executable);
  if (family === undefined) {
    if (familyCacheSize >= 10_000) {
      familyCache.clear();
      familyCacheSize = 0;
      familyCache.set(name, byExe);
      byExe.clear();
    }
    byExe.set(executable, (family = familyOf(row)));
    familyCacheSize++;
  }
  return family;
}

export const nonstandardPort: Detector<NonstandardPortParams> = {
  spec: {
    id: 'nonstandard-port',
    name: 'Non-standard port',
    technique: [{ id: 'T1571', name: 'Non-Standard Port' }],
    description:
      'Outbound connection to a port that is not the usual one for the kind of process (browser, curl/wget, ssh, git, ' +
      'DNS tools, NTP, mail, database clients, package managers) and not in its baseline; known malware call-back ' +
      'ports (Sigma lists) raise the score and are reported for any process when the destination is external.',
    references: [
      'https://attack.mitre.org/techniques/T1571/',
      ...C2_PORT_LISTS.map((l) => l.rule.url),
    ],
    params: {
      minScore: { type: 'number', default: 0.35, min: 0, max: 1, description: 'Report connections scoring at least this.' },
      extraC2Ports: {
        type: 'number[]',
        default: [],
        min: 1,
        max: 65535,
        description: 'Site-specific call-back ports added to the shipped Sigma lists.',
      },
      ignorePorts: {
        type: 'number[]',
        default: [],
        min: 1,
        max: 65535,
        description: 'Ports never reported by this detector (e.g. a site-wide proxy port).',
      },
    },
  },

  detect(ctx, params) {
    const state = baselineState(ctx.baseline);
    const out = new Map<string, FindingDraft>();
    const families = new Map<string, ProcessFamily | null>();
    // started connections first (their attribution is known), then every socket of the sample
    const { started, rows } = ctx;
    for (let i = 0; i < started.length + rows.length; i++) {
      const e = i < started.length ? started[i]! : null;
      const row: Connection = e ? e.row : rows[i - started.length]!;
      if (!isOutbound(row)) continue;
      const { ip, port } = row.destination;
      const transport = row.network.transport;
      if (port === 0 || params.ignorePorts.includes(port)) continue;
      // cheap tests first: most sockets are a known family on a usual port, or no family on an unlisted port
      const who = row.process.executable ?? row.process.name ?? '';
      let family = families.get(who);
      if (family === undefined) families.set(who, (family = cachedFamilyOf(row)));
      const mismatch = family !== null && !familyUsesPort(family, port, transport);
      const listed = C2_BY_PORT.get(port) ?? null;
      const extra = params.extraC2Ports.includes(port);
      if (!mismatch && (family !== null || (!listed && !extra))) continue;
      const key: ProcessKey | null = e ? e.processKey : ctx.keyOf(row);
      if (key === null) continue;
      if (isLoopback(ip) || isNonUnicast(ip)) continue;
      if (ctx.baseline.hasPort(key, port, transport) || ctx.baseline.isAllowed(key, ip, port, transport)) continue;
      const id = `${key}|${ip}|${port}|${transport}`;
      if (out.has(id)) continue;
      const attribution: Attribution = e ? e.attribution : rowAttribution(row);

      const internal = isInternal(ip, ctx.host.internalNetworks);
      // the Sigma rules exclude local and private destinations; so do we
      const list = internal ? null : listed;
      const siteListed = !internal && extra;
      if (!mismatch && !list && !siteListed) continue;

      let score = mismatch ? 0.45 : 0.25;
      if (list) score += list.rule.level === 'high' ? 0.3 : 0.15;
      else if (siteListed) score += 0.3;
      if (mismatch && internal) score -= 0.1;
      if (!internal) score += 0.05;
      if (score < params.minScore) continue;

      const dest = endpointLabel(ip, port, transport);
      const usual = family ? [...(transport === 'tcp' ? family.tcp : family.udp)].join(', ') || 'none' : null;
      const why = [
        mismatch ? `${family!.label} on ${transport}/${port} (usual: ${usual})` : null,
        list ? `port on Sigma list "${list.rule.title}" by ${list.rule.author}` : null,
        siteListed ? 'port on the site call-back list' : null,
      ].filter(Boolean);
      out.set(
        id,
        makeDraft(nonstandardPort.spec, {
          processKey: key,
          row,
          score,
          confidence: {
            attribution: attributionShare([attribution]),
            evidence: row.socket.state === 'ESTABLISHED' || transport === 'udp' ? 1 : 0.5,
            baseline: state,
          },
          recommendedAction:
            `Check what ${processLabel(row)} is doing on ${dest}: compare its command line with the expected use ` +
            `(${row.process.command_line ?? 'command line unknown'}), identify the service behind the port and the ` +
            `destination's reputation. If it is not a known service, block the port to ${ip} and investigate the host ` +
            `for a reverse shell or implant; if it is legitimate, allow it (sockhunt baseline allow).`,
          evidence: [
            {
              summary: `${processLabel(row)} → ${dest} (${internal ? 'internal' : 'external'}): ${why.join('; ')}`,
              process: processEvidence(row, key),
              destination: { ip, port, transport, internal },
              family: family?.id ?? null,
              usual_ports: usual,
              connection: { state: row.socket.state, attribution },
            },
            ...(list
              ? [
                  {
                    c2_port_list: {
                      title: list.rule.title,
                      id: list.rule.id,
                      author: list.rule.author,
                      level: list.rule.level,
                      url: list.rule.url,
                      license: DRL,
                    },
                  },
                ]
              : []),
          ],
          references: list ? [list.rule.url] : [],
        }),
      );
    }
    return [...out.values()];
  },
};
