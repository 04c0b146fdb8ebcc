// The REST API: JSON, `Authorization: Bearer <api token>`, errors as {error:{code,message}}.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { HUNT_DETECTORS, type FindingDoc } from '../core/finding.js';
import { RISKS, type Risk } from '../core/risk.js';
import { parseDuration } from '../core/duration.js';
import { isSockhuntError } from '../core/errors.js';
import { normaliseAllowDestination } from '../core/allow.js';
import { processKeyOf } from '../core/process-key.js';
import { AllowRuleWireSchema, CLOSE, SnapshotParamsSchema } from '../core/protocol.js';
import { secretMatches } from './auth.js';
import { RequestError, type AgentHub } from './hub.js';
import { ApiError, queryObject, readJsonBody, sendApiError, sendJson, validate, SECURITY_HEADERS } from './http.js';
import type { IngestStats, Log } from './ingest.js';
import { FINDING_STATUSES, type FindingFilter, type FindingRecord, type ServerStore } from '../store/server/contract.js';
import { allowRuleView, auditView, destinationView, findingView, hostView } from './views.js';

export interface ApiContext {
  store: ServerStore;
  hub: AgentHub;
  apiTokenHash: string;
  /** How long live response waits for the agent's reply. */
  requestTimeoutMs: number;
  maxBodyBytes: number;
  stats: IngestStats;
  validatorWorkers(): number;
  log: Log;
  now(): number;
  version: string;
}

interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  who: string;
}

type Handler = (call: Call, ctx: ApiContext) => Promise<void>;

interface Route {
  method: string;
  pattern: RegExp;
  auth: boolean;
  handler: Handler;
}

// ---- input schemas -------------------------------------------------------------------------------------

const RiskParam = z.string().transform((text, c): Risk => {
  const risk = RISKS.find((r) => r.toLowerCase() === text.trim().toLowerCase());
  if (!risk) {
    c.addIssue({ code: 'custom', message: `expected one of ${RISKS.join(', ')} (any case)` });
    return z.NEVER;
  }
  return risk;
});

/** An ISO time, epoch milliseconds, or a duration meaning "that long ago" (24h, 7d). */
function sinceParam(now: () => number) {
  return z.string().transform((text, c): number => {
    if (/^\d{10,16}$/.test(text)) return Number(text);
    const t = Date.parse(text);
    if (/^\d{4}-\d{2}-\d{2}/.test(text) && !Number.isNaN(t)) return t;
    try {
      return now() - parseDuration(text, 'since');
    } catch {
      c.addIssue({ code: 'custom', message: 'expected an ISO time, epoch milliseconds or a duration such as 24h' });
      return z.NEVER;
    }
  });
}

const Limit = (max: number, fallback: number) =>
  z
    .string()
    .regex(/^\d{1,7}$/, 'expected a whole number')
    .transform(Number)
    .pipe(z.int().min(1).max(max))
    .optional()
    .transform((v) => v ?? fallback);

function findingsQuery(now: () => number, maxLimit: number, defaultLimit: number) {
  return z.strictObject({
    host: z.string().min(1).max(255).optional(),
    risk: RiskParam.optional(),
    technique: z
      .string()
      .regex(/^T\d{4}(\.\d{3})?$/i, 'expected an ATT&CK technique id such as T1571')
      .transform((t) => t.toUpperCase())
      .optional(),
    detector: z.enum(HUNT_DETECTORS).optional(),
    status: z.enum(FINDING_STATUSES).optional(),
    since: sinceParam(now).optional(),
    sort: z.enum(['risk', 'recent']).optional().transform((s) => s ?? 'risk'),
    limit: Limit(maxLimit, defaultLimit),
    cursor: z.string().min(1).max(512).optional(),
  });
}

const TriagePatchSchema = z
  .strictObject({
    status: z.enum(FINDING_STATUSES).optional(),
    assignee: z.string().trim().min(1).max(128).nullable().optional(),
    notes: z.string().max(10_000).nullable().optional(),
  })
  .refine((p) => p.status !== undefined || p.assignee !== undefined || p.notes !== undefined, 'give at least one of status, assignee, notes');

const AllowBodySchema = z.strictObject({ fleet: z.boolean().optional(), comment: z.string().max(1024).optional() });

const DestinationsQuery = z.strictObject({
  max_hosts: z.string().regex(/^\d{1,7}$/).transform(Number).optional(),
  limit: Limit(1000, 100),
});

const AuditQuery = (now: () => number) =>
  z.strictObject({
    action: z.string().min(1).max(64).optional(),
    since: sinceParam(now).optional(),
    limit: Limit(1000, 100),
    cursor: z.string().min(1).max(32).optional(),
  });

const EmptyQuery = z.strictObject({});

const User = z.string().min(1).max(128).regex(/^[\x21-\x7e][\x20-\x7e]*$/);

/** Live response rows: a list of objects, or {rows: [...]} (what an agent replies to `snapshot`). */
const SnapshotRows = z.union([
  z.array(z.record(z.string(), z.unknown())).max(500_000),
  z.object({ rows: z.array(z.record(z.string(), z.unknown())).max(500_000) }).transform((r) => r.rows),
]);

// ---- helpers -------------------------------------------------------------------------------------------

function whoOf(req: IncomingMessage): string {
  const raw = req.headers['x-sockhunt-user'];
  const r = User.safeParse(Array.isArray(raw) ? raw[0] : raw);
  return r.success ? r.data : 'api';
}

function authorized(req: IncomingMessage, tokenHash: string): boolean {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return false;
  const m = /^Bearer[ ]+(\S{1,512})\s*$/i.exec(header);
  return m?.[1] !== undefined && secretMatches(m[1], tokenHash);
}

function param(call: Call, i: number): string {
  const raw = call.params[i] ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError('SOCKHUNT_E_API_INPUT', 'malformed percent-encoding in the path');
  }
}

async function findingOr404(ctx: ApiContext, id: string): Promise<FindingRecord> {
  const f = await ctx.store.getFinding(id);
  if (!f) throw new ApiError('SOCKHUNT_E_API_NOT_FOUND', `no finding ${JSON.stringify(id.slice(0, 200))}`);
  return f;
}

/** The process key an allow rule names: the detector's own key when the evidence carries it, else the one the agent would compute. */
function processKeyOfFinding(doc: FindingDoc): string | null {
  for (const e of doc.hunt.evidence) {
    const k = e['processKey'] ?? e['process_key'];
    if (typeof k === 'string' && k.trim() !== '') return k;
  }
  return processKeyOf(doc.process) ?? (doc.process.executable || null);
}

function filterOf(q: { host?: string | undefined; risk?: Risk | undefined; technique?: string | undefined; detector?: string | undefined; status?: FindingFilter['status']; since?: number | undefined }): FindingFilter {
  const f: FindingFilter = {};
  if (q.host !== undefined) f.host = q.host;
  if (q.risk !== undefined) f.risk = q.risk;
  if (q.technique !== undefined) f.technique = q.technique;
  if (q.detector !== undefined) f.detector = q.detector;
  if (q.status !== undefined) f.status = q.status;
  if (q.since !== undefined) f.since = q.since;
  return f;
}

/** Sends the current rule list to online agents (fleet: all of them); failures are logged, not fatal. */
async function pushAllowRules(ctx: ApiContext, agentIds: string[]): Promise<number> {
  let sent = 0;
  for (const agentId of agentIds) {
    if (!ctx.hub.isOnline(agentId)) continue;
    const rules = await ctx.store.allowRulesFor(agentId);
    sent++;
    ctx.hub.request(agentId, 'baseline.allow', { rules }, ctx.requestTimeoutMs).then(
      (reply) => {
        if (!reply.ok) ctx.log('warn', 'agent refused the allow rules', { agent: agentId, error: reply.error?.message });
      },
      (err: unknown) => ctx.log('warn', 'allow rules not confirmed; the agent gets them in its next welcome', { agent: agentId, error: (err as Error).message }),
    );
  }
  return sent;
}

// ---- handlers ------------------------------------------------------------------------------------------

const routes: Route[] = [
  {
    method: 'GET',
    pattern: /^\/healthz$/,
    auth: false,
    handler: async (call, ctx) => sendJson(call.res, 200, { status: 'ok', version: ctx.version }),
  },
  {
    method: 'GET',
    pattern: /^\/api\/stats$/,
    auth: true,
    handler: async (call, ctx) => {
      validate(EmptyQuery, queryObject(call.url), 'query');
      sendJson(call.res, 200, { agents_online: ctx.hub.size, ingest: ctx.stats, validator_workers: ctx.validatorWorkers(), rss_bytes: process.memoryUsage.rss() });
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/hosts$/,
    auth: true,
    handler: async (call, ctx) => {
      validate(EmptyQuery, queryObject(call.url), 'query');
      const hosts = await ctx.store.listHosts();
      sendJson(call.res, 200, { hosts: hosts.map((h) => hostView(h, ctx.hub.isOnline(h.agentId))) });
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/api\/hosts\/([^/]+)$/,
    auth: true,
    handler: async (call, ctx) => {
      const id = param(call, 0).toLowerCase();
      const known = await ctx.store.revokeHost(id, ctx.now(), { who: call.who, action: 'host.revoke', target: id });
      if (!known) throw new ApiError('SOCKHUNT_E_API_NOT_FOUND', `no host ${JSON.stringify(id.slice(0, 200))}`);
      const link = ctx.hub.get(id);
      link?.close(CLOSE.REVOKED, 'this agent was revoked');
      sendJson(call.res, 200, { id, revoked: true, disconnected: link !== undefined });
    },
  },
  {
    method: 'POST',
    pattern: /^\/api\/hosts\/([^/]+)\/snapshot$/,
    auth: true,
    handler: async (call, ctx) => {
      const id = param(call, 0).toLowerCase();
      const body = await readJsonBody(call.req, ctx.maxBodyBytes);
      const params = validate(SnapshotParamsSchema, body ?? {}, 'body');
      const host = await ctx.store.findHost(id);
      if (!host) throw new ApiError('SOCKHUNT_E_API_NOT_FOUND', `no host ${JSON.stringify(id.slice(0, 200))}`);
      const started = ctx.now();
      const audit = (detail: Record<string, unknown>) =>
        ctx.store.audit({ who: call.who, action: 'live_response.snapshot', target: id, detail: { ...detail, params, ms: ctx.now() - started } }, ctx.now());
      let reply;
      try {
        reply = await ctx.hub.request(id, 'snapshot', params, ctx.requestTimeoutMs);
      } catch (err) {
        if (!(err instanceof RequestError)) throw err;
        await audit({ ok: false, error: err.kind });
        if (err.kind === 'timeout') throw new ApiError('SOCKHUNT_E_API_TIMEOUT', `the agent did not reply within ${ctx.requestTimeoutMs} ms`);
        throw new ApiError('SOCKHUNT_E_API_OFFLINE', err.kind === 'offline' ? 'the agent is offline' : err.message);
      }
      if (!reply.ok) {
        await audit({ ok: false, error: reply.error?.code ?? 'unknown' });
        throw new ApiError('SOCKHUNT_E_API_AGENT', `the agent could not take a snapshot: ${reply.error?.code ?? ''} ${reply.error?.message ?? ''}`.trim());
      }
      const rows = SnapshotRows.safeParse(reply.result);
      if (!rows.success) {
        await audit({ ok: false, error: 'bad reply' });
        throw new ApiError('SOCKHUNT_E_API_AGENT', 'the agent replied with something other than socket rows');
      }
      await audit({ ok: true, rows: rows.data.length });
      sendJson(call.res, 200, { host: id, hostname: host.hostname, taken_at: new Date(ctx.now()).toISOString(), count: rows.data.length, rows: rows.data });
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/findings$/,
    auth: true,
    handler: async (call, ctx) => {
      const q = validate(findingsQuery(ctx.now, 1000, 100), queryObject(call.url), 'query');
      const page = await ctx.store.listFindings(filterOf(q), { limit: q.limit, cursor: q.cursor ?? null, sort: q.sort });
      sendJson(call.res, 200, { findings: page.items.map(findingView), next_cursor: page.nextCursor });
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/findings\.ndjson$/,
    auth: true,
    handler: async (call, ctx) => {
      const q = validate(findingsQuery(ctx.now, 10_000_000, 10_000_000), queryObject(call.url), 'query');
      const filter = filterOf(q);
      const { res } = call;
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'Content-Type': 'application/x-ndjson; charset=utf-8',
        'Cache-Control': 'no-store',
        'Content-Disposition': 'attachment; filename="sockhunt-findings.ndjson"',
      });
      let cursor = q.cursor ?? null;
      let left = q.limit;
      // Pages, not one long query: ingest keeps writing while a large export streams out.
      while (left > 0 && !res.destroyed) {
        const page = await ctx.store.listFindings(filter, { limit: Math.min(500, left), cursor, sort: q.sort });
        const text = page.items.map((f) => `${JSON.stringify(findingView(f))}\n`).join('');
        left -= page.items.length;
        if (text && !res.write(text)) await new Promise<void>((resolve) => {
          res.once('drain', resolve);
          res.once('close', resolve);
        });
        if (page.nextCursor === null) break;
        cursor = page.nextCursor;
      }
      res.end();
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/findings\/([^/]+)$/,
    auth: true,
    handler: async (call, ctx) => {
      validate(EmptyQuery, queryObject(call.url), 'query');
      sendJson(call.res, 200, { finding: findingView(await findingOr404(ctx, param(call, 0))) });
    },
  },
  {
    method: 'PATCH',
    pattern: /^\/api\/findings\/([^/]+)$/,
    auth: true,
    handler: async (call, ctx) => {
      const id = param(call, 0);
      const patch = validate(TriagePatchSchema, await readJsonBody(call.req, ctx.maxBodyBytes), 'body');
      const updated = await ctx.store.updateTriage(id, patch, ctx.now(), { who: call.who, action: 'finding.update', target: id, detail: { ...patch } });
      if (!updated) throw new ApiError('SOCKHUNT_E_API_NOT_FOUND', `no finding ${JSON.stringify(id.slice(0, 200))}`);
      sendJson(call.res, 200, { finding: findingView(updated) });
    },
  },
  {
    method: 'POST',
    pattern: /^\/api\/findings\/([^/]+)\/allow$/,
    auth: true,
    handler: async (call, ctx) => {
      const id = param(call, 0);
      const body = validate(AllowBodySchema, (await readJsonBody(call.req, ctx.maxBodyBytes)) ?? {}, 'body');
      const finding = await findingOr404(ctx, id);
      const processKey = processKeyOfFinding(finding.doc);
      if (!processKey) throw new ApiError('SOCKHUNT_E_API_UNATTRIBUTED', 'the finding names no process: an allow rule needs one');
      let destination: string;
      try {
        destination = normaliseAllowDestination(finding.doc.destination.ip);
      } catch {
        throw new ApiError('SOCKHUNT_E_API_UNATTRIBUTED', `the finding's destination ${JSON.stringify(finding.doc.destination.ip)} is not an address`);
      }
      const wire = AllowRuleWireSchema.safeParse({
        process: processKey,
        destination,
        port: finding.doc.destination.port === 0 ? null : finding.doc.destination.port,
        transport: finding.doc.network.transport,
        comment: body.comment ?? null,
      });
      if (!wire.success) throw new ApiError('SOCKHUNT_E_API_UNATTRIBUTED', 'the finding cannot be expressed as an allow rule (process key too long?)');
      const fleet = body.fleet === true;
      const rule = await ctx.store.addAllowRule(
        {
          agentId: fleet ? null : finding.agentId,
          process: wire.data.process,
          destination: wire.data.destination,
          port: wire.data.port,
          transport: wire.data.transport,
          comment: wire.data.comment ?? null,
          findingId: finding.eventId,
          createdBy: call.who,
        },
        ctx.now(),
        { who: call.who, action: 'finding.allow', target: finding.eventId, detail: { fleet, comment: body.comment ?? null } },
        { eventId: finding.eventId, status: 'false_positive' },
      );
      const pushed = await pushAllowRules(ctx, fleet ? ctx.hub.agentIds() : [finding.agentId]);
      const updated = await findingOr404(ctx, id);
      sendJson(call.res, 201, { rule: allowRuleView(rule), finding: findingView(updated), pushed_to: pushed });
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/allow$/,
    auth: true,
    handler: async (call, ctx) => {
      validate(EmptyQuery, queryObject(call.url), 'query');
      sendJson(call.res, 200, { rules: (await ctx.store.listAllowRules()).map(allowRuleView) });
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/api\/allow\/(\d{1,15})$/,
    auth: true,
    handler: async (call, ctx) => {
      const id = Number(param(call, 0));
      const removed = await ctx.store.deleteAllowRule(id, { who: call.who, action: 'allow.delete', target: String(id) });
      if (!removed) throw new ApiError('SOCKHUNT_E_API_NOT_FOUND', `no allow rule ${id}`);
      const pushed = await pushAllowRules(ctx, removed.agentId === null ? ctx.hub.agentIds() : [removed.agentId]);
      sendJson(call.res, 200, { rule: allowRuleView(removed), deleted: true, pushed_to: pushed });
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/destinations$/,
    auth: true,
    handler: async (call, ctx) => {
      const q = validate(DestinationsQuery, queryObject(call.url), 'query');
      const list = await ctx.store.listDestinations({ limit: q.limit, ...(q.max_hosts !== undefined ? { maxHosts: q.max_hosts } : {}) });
      sendJson(call.res, 200, { fleet_hosts: await ctx.store.activeHostCount(), destinations: list.map(destinationView) });
    },
  },
  {
    method: 'GET',
    pattern: /^\/api\/audit$/,
    auth: true,
    handler: async (call, ctx) => {
      const q = validate(AuditQuery(ctx.now), queryObject(call.url), 'query');
      const page = await ctx.store.listAudit({
        limit: q.limit,
        cursor: q.cursor ?? null,
        ...(q.action !== undefined ? { action: q.action } : {}),
        ...(q.since !== undefined ? { since: q.since } : {}),
      });
      sendJson(call.res, 200, { entries: page.items.map(auditView), next_cursor: page.nextCursor });
    },
  },
];

/** Handles the request when it is an API route (true), else leaves it to the caller (false). */
export async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL, ctx: ApiContext): Promise<boolean> {
  const path = url.pathname;
  const matching = routes.filter((r) => r.pattern.test(path));
  if (matching.length === 0) {
    if (!path.startsWith('/api/')) return false;
    sendApiError(res, new ApiError('SOCKHUNT_E_API_NOT_FOUND', 'no such API endpoint'));
    return true;
  }
  const route = matching.find((r) => r.method === req.method || (r.method === 'GET' && req.method === 'HEAD'));
  try {
    if (!route) {
      const allow = [...new Set(matching.map((r) => r.method))].join(', ');
      throw new ApiError('SOCKHUNT_E_API_METHOD', `use ${allow} on this endpoint`, { Allow: allow });
    }
    if (route.auth && !authorized(req, ctx.apiTokenHash)) {
      throw new ApiError('SOCKHUNT_E_API_AUTH', 'missing or wrong API token (Authorization: Bearer <token>)', { 'WWW-Authenticate': 'Bearer' });
    }
    const params = route.pattern.exec(path)!.slice(1);
    await route.handler({ req, res, url, params, who: whoOf(req) }, ctx);
  } catch (err) {
    if (err instanceof ApiError) sendApiError(res, err);
    else if (isSockhuntError(err) && err.code === 'SOCKHUNT_E_INPUT') sendApiError(res, new ApiError('SOCKHUNT_E_API_INPUT', err.message));
    else if (isSockhuntError(err) && err.code.startsWith('SOCKHUNT_E_DB')) {
      ctx.log('error', 'API store failure', { path, error: err.message });
      sendApiError(res, new ApiError('SOCKHUNT_E_API_STORE', 'the database is unavailable; try again'));
    } else {
      ctx.log('error', 'API failure', { path, error: String((err as Error)?.stack ?? err) });
      if (res.headersSent) res.destroy();
      else sendApiError(res, new ApiError('SOCKHUNT_E_API_INTERNAL', 'internal error'));
    }
  }
  return true;
}
