// The baseline export file: versioned JSON, validated on import (it crosses a trust boundary: a golden-image
// baseline made on one host is imported on many), and the diff between two of them.
import { z } from 'zod';
import { SockhuntError } from '../../core/errors.js';
import { normaliseAllowDestination } from '../../core/allow.js';
import { canonicalGrainValue, GRAINS, type Grain } from './grains.js';

export const BASELINE_FILE_FORMAT = 'sockhunt-baseline';
export const BASELINE_FILE_VERSION = 1;

const timestamp = z.iso.datetime({ offset: true });
const count = z.int().min(0);

const DestinationSchema = z
  .strictObject({
    grain: z.enum(GRAINS),
    value: z.string().min(1).max(1100),
    first_seen: timestamp,
    last_seen: timestamp,
    samples: count,
    connections: count,
  })
  .check((ctx) => {
    if (canonicalGrainValue(ctx.value.grain, ctx.value.value) === null) {
      ctx.issues.push({ code: 'custom', input: ctx.value.value, path: ['value'], message: `not a valid ${ctx.value.grain}` });
    }
  });

const ProcessSchema = z.strictObject({
  key: z.string().min(1).max(5000),
  first_seen: timestamp,
  last_seen: timestamp,
  samples: count,
  connections: count,
  dns_connections: count,
  destinations: z.array(DestinationSchema),
});

const AllowSchema = z
  .strictObject({
    process: z.string().min(1).max(5000),
    destination: z.string().min(1).max(100),
    port: z.int().min(1).max(65535).nullable(),
    transport: z.enum(['tcp', 'udp']).nullable(),
    source: z.enum(['cli', 'server']),
    comment: z.string().max(1000).nullable().optional(),
  })
  .check((ctx) => {
    try {
      normaliseAllowDestination(ctx.value.destination);
    } catch {
      ctx.issues.push({ code: 'custom', input: ctx.value.destination, path: ['destination'], message: 'not *, an address or a CIDR' });
    }
  });

export const BaselineFileSchema = z.strictObject({
  format: z.literal(BASELINE_FILE_FORMAT),
  version: z.literal(BASELINE_FILE_VERSION),
  /** A fresh UUID per export: importing the same export twice changes nothing the second time. */
  export_id: z.uuid(),
  exported_at: timestamp,
  host: z.strictObject({ id: z.string().min(1).max(200), name: z.string().max(255).optional() }),
  /** Learning time the counts cover; rates are connections per minute of it. */
  learning_ms: z.number().min(0),
  processes: z.array(ProcessSchema),
  allow: z.array(AllowSchema),
});

export type BaselineFile = z.infer<typeof BaselineFileSchema>;
export type BaselineFileProcess = z.infer<typeof ProcessSchema>;
export type BaselineFileDestination = z.infer<typeof DestinationSchema>;
export type BaselineFileAllow = z.infer<typeof AllowSchema>;

/** Validates an export (already parsed from JSON); throws SOCKHUNT_E_INPUT naming what is wrong. */
export function parseBaselineFile(data: unknown): BaselineFile {
  const result = BaselineFileSchema.safeParse(data);
  if (!result.success) {
    const version = (data as { version?: unknown } | null)?.version;
    const hint = typeof version === 'number' && version > BASELINE_FILE_VERSION ? ` (file version ${version} is newer than this sockhunt's ${BASELINE_FILE_VERSION})` : '';
    throw new SockhuntError('SOCKHUNT_E_INPUT', `invalid baseline file${hint}:\n${z.prettifyError(result.error)}`, {
      cause: result.error,
    });
  }
  return result.data;
}

export interface DestinationRef {
  processKey: string;
  grain: Grain;
  value: string;
}

export interface AllowRef {
  process: string;
  destination: string;
  port: number | null;
  transport: 'tcp' | 'udp' | null;
}

export interface BaselineDiff {
  addedProcesses: string[];
  removedProcesses: string[];
  /** Destinations in `b` and not in `a` (including those of added processes). */
  addedDestinations: DestinationRef[];
  removedDestinations: DestinationRef[];
  addedAllow: AllowRef[];
  removedAllow: AllowRef[];
}

const SEP = '\u0000';

function destinationKeys(file: BaselineFile): Map<string, DestinationRef> {
  const out = new Map<string, DestinationRef>();
  for (const p of file.processes) {
    for (const d of p.destinations) {
      const value = canonicalGrainValue(d.grain, d.value) ?? d.value;
      out.set([p.key, d.grain, value].join(SEP), { processKey: p.key, grain: d.grain, value });
    }
  }
  return out;
}

function allowKeys(file: BaselineFile): Map<string, AllowRef> {
  const out = new Map<string, AllowRef>();
  for (const r of file.allow) {
    const ref = { process: r.process, destination: normaliseAllowDestination(r.destination), port: r.port, transport: r.transport };
    out.set([ref.process, ref.destination, ref.port ?? '', ref.transport ?? ''].join(SEP), ref);
  }
  return out;
}

function minus<T>(a: Map<string, T>, b: Map<string, T>): T[] {
  const out: T[] = [];
  for (const [k, v] of a) if (!b.has(k)) out.push(v);
  return out;
}

/** What changed from export `a` to export `b`. */
export function diffBaselines(a: BaselineFile, b: BaselineFile): BaselineDiff {
  const pa = new Set(a.processes.map((p) => p.key));
  const pb = new Set(b.processes.map((p) => p.key));
  const da = destinationKeys(a);
  const db = destinationKeys(b);
  const aa = allowKeys(a);
  const ab = allowKeys(b);
  return {
    addedProcesses: [...pb].filter((k) => !pa.has(k)).sort(),
    removedProcesses: [...pa].filter((k) => !pb.has(k)).sort(),
    addedDestinations: minus(db, da),
    removedDestinations: minus(da, db),
    addedAllow: minus(ab, aa),
    removedAllow: minus(aa, ab),
  };
}
