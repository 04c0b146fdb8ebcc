// T1571 Non-Standard Port: a client talks to a port that is not the usual one for what it is (an ssh client not on
// 22, curl on 4444), or any process calls back to a port of the Sigma malware call-back lists.
import type { Connection } from '../../collectors/types.js';
import type { Detector, FindingDraft, ProcessKey } from './types.js';
import {
  attributionShare,
  baselineState,
  isOutbound,
  makeDraft,
  processEvidence,
  rowAttribution,
  type Attribution,
} from './common.js';
import { endpointLabel, isInternal, isLoopback, isNonUnicast } from './net.js';
import { familyOf, familyUsesPort, processLabel } from './families.js';
import { C2_PORT_LISTS, type C2PortList } from '../data/c2-ports.js';
import { DRL } from '../data/attribution.js';

export type NonstandardPortParams = {
  minScore: number;
  extraC2Ports: number[];
  ignorePorts: number[];
};

function c2Match(port: number): C2PortList | null {
  // prefer a high-level list when a port is on several
  const hits = C2_PORT_LISTS.filter((l) => l.ports.includes(port));
  return hits.find((l) => l.rule.level === 'high') ?? hits[0] ?? null;
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
    const seen: Array<{ row: Connection; key: ProcessKey; attribution: Attribution }> = [
      ...ctx.started.filter((e) => e.processKey !== null).map((e) => ({ row: e.row, key: e.processKey!, attribution: e.attribution })),
      ...ctx.rows.flatMap((row) => {
        const key = ctx.keyOf(row);
        return key === null ? [] : [{ row, key, attribution: rowAttribution(row) }];
      }),
    ];
    const out = new Map<string, FindingDraft>();
    for (const { row, key, attribution } of seen) {
      if (!isOutbound(row)) continue;
      const { ip, port } = row.destination;
      const transport = row.network.transport;
      const id = `${key}|${ip}|${port}|${transport}`;
      if (out.has(id)) continue;
      if (isLoopback(ip) || isNonUnicast(ip) || port === 0 || params.ignorePorts.includes(port)) continue;
      if (ctx.baseline.isAllowed(key, ip, port, transport) || ctx.baseline.hasPort(key, port, transport)) continue;

      const family = familyOf(row);
      const internal = isInternal(ip, ctx.host.internalNetworks);
      const mismatch = family !== null && !familyUsesPort(family, port, transport);
      if (family !== null && !mismatch) continue;
      // the Sigma rules exclude local and private destinations; so do we
      const list = internal ? null : c2Match(port);
      const extra = !internal && params.extraC2Ports.includes(port);
      if (!mismatch && !list && !extra) continue;

      let score = mismatch ? 0.45 : 0.25;
      if (list) score += list.rule.level === 'high' ? 0.3 : 0.15;
      else if (extra) score += 0.3;
      if (mismatch && internal) score -= 0.1;
      if (!internal) score += 0.05;
      if (score < params.minScore) continue;

      const dest = endpointLabel(ip, port, transport);
      const usual = family ? [...(transport === 'tcp' ? family.tcp : family.udp)].join(', ') || 'none' : null;
      const why = [
        mismatch ? `${family!.label} on ${transport}/${port} (usual: ${usual})` : null,
        list ? `port on Sigma list "${list.rule.title}" by ${list.rule.author}` : null,
        extra ? 'port on the site call-back list' : null,
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
