// The finding document (an ECS alert, DESIGN.md "Finding"): its schema, the draft a detector or rule engine
// makes it from, the hunt id and the dedupe key. Event ids are in event-id.ts, risk names and bands in risk.ts.
import { z } from 'zod';
import { SockhuntError } from './errors.js';
import { UNATTRIBUTED, type ProcessKey } from './process-key.js';
import type { Confidence, Risk } from './risk.js';

export interface Technique {
  id: string;
  name: string;
}

export interface Evidence {
  [field: string]: unknown;
}

/** The fields of a connection row that a finding document copies (the collectors' Connection has them all). */
export interface FindingSubject {
  process: {
    pid: number | null;
    name: string | null;
    executable: string | null;
    command_line: string | null;
    parent: { pid: number | null; name: string | null };
  };
  user: { name: string | null; id: string | null };
  network: { transport: 'tcp' | 'udp'; direction?: 'egress' | 'ingress' };
}

/** What a detector or rule engine hands the recorder; `Row` is the row type it represents the finding with. */
export interface FindingDraftOf<Row extends FindingSubject> {
  detector: string;
  technique: Technique[];
  rule: { id: string; name: string; author?: string; reference?: string[]; ruleset: string };
  processKey: ProcessKey | null;
  /** The row that best represents the finding (process, user, destination). */
  row: Row;
  destination: { ip: string; port: number; domain?: string };
  risk: Risk;
  confidence: Confidence;
  score: number;
  recommendedAction: string;
  evidence: Evidence[];
  /** Optional: replaces the destination in the dedupe key (a scan groups by target network or port class). */
  dedupeGroup?: string;
}
export type FindingDraft = FindingDraftOf<FindingSubject>;

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

/**
 * Where a recorded finding goes besides the findings store (the agent's outbox). The recorder calls `put` with
 * every document it writes, new or updated, inside the transaction that writes it: `put` joins that transaction,
 * and a throw rolls the finding back with it.
 */
export interface FindingSink {
  put(doc: FindingDoc, now: number): void;
}

type TimeInput = number | string | Date;

function iso(t: TimeInput): string {
  const d = t instanceof Date ? t : new Date(t);
  if (Number.isNaN(d.getTime())) throw new SockhuntError('SOCKHUNT_E_INPUT', `invalid time: ${String(t)}`);
  return d.toISOString();
}

/** Hunt ids this build mints: `TH-HUNTIN-<UTC date>-<per-host sequence, at least 4 digits>`. */
export const HUNT_ID_PATTERN = /^TH-HUNTIN-\d{8}-\d{4,}$/;

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
  const proc = draft.processKey ?? UNATTRIBUTED;
  const where =
    draft.dedupeGroup ?? `${draft.destination.ip}:${draft.destination.port}/${draft.row.network.transport}`;
  return `${draft.detector}|${proc}|${where}`;
}
