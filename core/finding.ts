// The finding document (an ECS alert, DESIGN.md "Finding"), its dedupe key, risk parsing and the text hunt report.
import { z } from 'zod';
import { SockhuntError } from './errors.js';
import { RISKS, type FindingDraft, type Risk } from '../agent/detect/types.js';

export const HUNT_DETECTORS = ['beacon', 'first-seen', 'nonstandard-port', 'scan', 'dns', 'miner', 'rate', 'sigma', 'ioc'] as const;

const RiskSchema = z.enum(['Critical', 'High', 'Medium', 'Low']);
const ConfidenceSchema = z.enum(['High', 'Medium', 'Low']);
const Timestamp = z.iso.datetime({ offset: true });
const Port = z.int().min(0).max(65535);

export const FindingDocSchema = z.object({
  '@timestamp': Timestamp,
  event: z.object({
    id: z.string().min(1),
    kind: z.literal('alert'),
    category: z.array(z.literal('network')).length(1),
    type: z.array(z.literal('connection')).length(1),
  }),
  rule: z.object({
    id: z.string().min(1),
    name: z.string().min(1),
    author: z.string().optional(),
    reference: z.array(z.string()).optional(),
    ruleset: z.string().min(1),
  }),
  threat: z.object({
    framework: z.literal('MITRE ATT&CK'),
    technique: z
      .array(z.object({ id: z.string().regex(/^T\d{4}(\.\d{3})?$/), name: z.string().min(1) }))
      .min(1),
    enrichments: z
      .array(z.object({ indicator: z.record(z.string(), z.unknown()), matched: z.record(z.string(), z.unknown()) }))
      .optional(),
  }),
  hunt: z.object({
    id: z.string().regex(/^TH-[A-Z0-9]+-\d{8}-\d{4,}$/),
    detector: z.enum(HUNT_DETECTORS),
    risk: RiskSchema,
    confidence: ConfidenceSchema,
    score: z.number().min(0).max(1),
    endpoint_risk: RiskSchema.optional(),
    fleet: z
      .object({ hosts: z.int().min(0), prevalence: z.number().min(0).max(1), modifier: z.number(), reason: z.string() })
      .optional(),
    recommended_action: z.string().min(1),
    evidence: z.array(z.record(z.string(), z.unknown())),
    first_seen: Timestamp,
    last_seen: Timestamp,
    count: z.int().min(1),
  }),
  host: z.object({ name: z.string(), id: z.string() }),
  user: z.object({ name: z.string().nullable(), id: z.string().nullable() }),
  process: z.object({
    pid: z.int().nullable(),
    name: z.string().nullable(),
    executable: z.string().nullable(),
    command_line: z.string().nullable(),
    parent: z.object({ pid: z.int().nullable(), name: z.string().nullable() }),
  }),
  destination: z.object({ ip: z.string().min(1), port: Port, domain: z.string().optional() }),
  network: z.object({ transport: z.enum(['tcp', 'udp']), direction: z.enum(['egress', 'ingress']).optional() }),
});

export type FindingDoc = z.output<typeof FindingDocSchema>;

type TimeInput = number | string | Date;

function iso(t: TimeInput): string {
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) throw new SockhuntError('SOCKHUNT_E_INPUT', `invalid time: ${String(t)}`);
  return d.toISOString();
}

/** `TH-HUNTIN-<UTC date>-<per-host sequence, at least 4 digits>`. */
export function formatHuntId(now: TimeInput, seq: number): string {
  if (!Number.isInteger(seq) || seq < 1) throw new SockhuntError('SOCKHUNT_E_INPUT', `invalid hunt sequence: ${seq}`);
  return `TH-HUNTIN-${iso(now).slice(0, 10).replace(/-/g, '')}-${String(seq).padStart(4, '0')}`;
}

export interface BuildOptions {
  eventId: string;
  huntId: string;
  host: { name: string; id: string };
  firstSeen: TimeInput;
  lastSeen: TimeInput;
  count: number;
  now: TimeInput;
}

/** Builds and validates the document; a draft that does not fit the schema is a SOCKHUNT_E_INPUT error. */
export function buildFindingDoc(draft: FindingDraft, opts: BuildOptions): FindingDoc {
  const row = draft.row;
  const doc = {
    '@timestamp': iso(opts.now),
    event: { id: opts.eventId, kind: 'alert', category: ['network'], type: ['connection'] },
    rule: { ...draft.rule },
    threat: { framework: 'MITRE ATT&CK', technique: draft.technique.map((t) => ({ id: t.id, name: t.name })) },
    hunt: {
      id: opts.huntId,
      detector: draft.detector,
      risk: draft.risk,
      confidence: draft.confidence,
      score: draft.score,
      recommended_action: draft.recommendedAction,
      evidence: draft.evidence,
      first_seen: iso(opts.firstSeen),
      last_seen: iso(opts.lastSeen),
      count: opts.count,
    },
    host: { name: opts.host.name, id: opts.host.id },
    user: { name: row.user.name, id: row.user.id },
    process: {
      pid: row.process.pid,
      name: row.process.name,
      executable: row.process.executable,
      command_line: row.process.command_line,
      parent: { pid: row.process.parent.pid, name: row.process.parent.name },
    },
    destination: {
      ip: draft.destination.ip,
      port: draft.destination.port,
      ...(draft.destination.domain !== undefined ? { domain: draft.destination.domain } : {}),
    },
    network: {
      transport: row.network.transport,
      ...(row.network.direction !== undefined ? { direction: row.network.direction } : {}),
    },
  };
  const parsed = FindingDocSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SockhuntError(
      'SOCKHUNT_E_INPUT',
      `finding from ${draft.detector} does not fit the schema: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`,
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

/** detector | process | destination — or the detector's group (a scan is one finding per target class). */
export function dedupeKey(draft: FindingDraft): string {
  const proc = draft.processKey ?? 'unattributed';
  const where =
    draft.dedupeGroup ?? `${draft.destination.ip}:${draft.destination.port}/${draft.row.network.transport}`;
  return `${draft.detector}|${proc}|${where}`;
}

export function parseRisk(text: string): Risk {
  const t = text.trim().toLowerCase();
  const risk = RISKS.find((r) => r.toLowerCase() === t);
  if (!risk) {
    throw new SockhuntError('SOCKHUNT_E_USAGE', `unknown risk level "${text}" (expected ${RISKS.join(', ')}, any case)`);
  }
  return risk;
}

export function riskAtLeast(a: Risk, b: Risk): boolean {
  return RISKS.indexOf(a) >= RISKS.indexOf(b);
}

/**
 * Makes an endpoint-sourced string safe to print on a terminal: C0/C1 controls and DEL as \xNN (\n, \r, \t by
 * name), and invisible/bidi formatting characters as \u{…}, so nothing from a process name or command line can
 * move the cursor, recolour, retitle or visually reorder the report.
 */
export function escapeTerminal(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c <= 0x9f)) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (
      (c >= 0x200b && c <= 0x200f) ||
      (c >= 0x2028 && c <= 0x202e) ||
      (c >= 0x2060 && c <= 0x2069) ||
      c === 0xfeff
    ) {
      out += `\\u{${c.toString(16)}}`;
    } else out += ch;
  }
  return out;
}

const MAX_EVIDENCE_LINE = 600;

function flatten(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object') return [`${prefix}=${String(value)}`];
  if (Array.isArray(value)) return [`${prefix}=${value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(',')}`];
  return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
}

/** One readable line: the evidence summaries, or key=value pairs when a detector gave none. */
export function evidenceLine(evidence: ReadonlyArray<Record<string, unknown>>): string {
  const summaries = evidence.map((e) => e['summary']).filter((s): s is string => typeof s === 'string');
  const line = summaries.length > 0 ? summaries.join('; ') : evidence.flatMap((e) => flatten(e)).slice(0, 12).join(' ');
  return line.length > MAX_EVIDENCE_LINE ? `${line.slice(0, MAX_EVIDENCE_LINE - 1)}…` : line;
}

/** The hunt report block of DESIGN.md; every value is escaped for the terminal. */
export function formatHuntReport(doc: FindingDoc): string {
  const e = escapeTerminal;
  return [
    `Hunt ID: ${e(doc.hunt.id)}`,
    `Technique: ${e(doc.threat.technique.map((t) => t.id).join(', '))}`,
    `Host: ${e(doc.host.name)}`,
    `User: ${e(doc.user.name ?? doc.user.id ?? 'unknown')}`,
    `Evidence: ${e(evidenceLine(doc.hunt.evidence))}`,
    `Risk Level: ${e(doc.hunt.risk)}`,
    `Confidence: ${e(doc.hunt.confidence)}`,
    `Recommended Action: ${e(doc.hunt.recommended_action)}`,
  ].join('\n');
}
