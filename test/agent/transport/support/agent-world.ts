// Starting and reading the pieces of an agent test: `sockhunt agent` processes (from the sources), the test
// or the real server as processes, the client workload, and read-only looks into their databases.
import Database from 'better-sqlite3';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NET, ROOT, type Proc, type TransportLab } from './netns.js';

export const SECRET = 'test-enroll-secret';
/** Ports the listener serves on NET.remote: a mix of Sigma C2 call-back ports and merely unusual ones. */
export const PORTS = [4444, 5555, 1337, 31337, 6666, 7777, 8888, 9999, 12345, 2001, 2002, 2003, 2004, 2005, 2006, 2007, 2008, 2009, 2010, 2011];

export type ServerKind = 'test' | 'real';

export interface ServerProc {
  kind: ServerKind;
  proc: Proc;
  port: number;
  db: string;
}

let commandId = 0;

export async function startServer(lab: TransportLab, kind: ServerKind, db: string, options: { port?: number; holdAcks?: boolean; allow?: unknown[] } = {}): Promise<ServerProc> {
  const entry = kind === 'test' ? 'test/agent/transport/support/server-main.ts' : 'test/agent/transport/support/real-server-entry.ts';
  const args = [process.execPath, '--import', 'tsx', entry, '--db', db, '--port', String(options.port ?? 0), '--secret', SECRET];
  if (options.holdAcks) args.push('--hold-acks');
  if (options.allow) args.push('--allow', JSON.stringify(options.allow));
  const proc = lab.start('host', `${kind}-server`, args, { stdin: true });
  const ready = await proc.waitLine((l) => l.event === 'listening', 90_000);
  return { kind, proc, port: ready.port as number, db };
}

/** Sends a command to a server process and waits for its answer line. */
export async function command(server: ServerProc, cmd: Record<string, unknown>, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const id = ++commandId;
  server.proc.send({ id, ...cmd });
  return server.proc.waitLine((l) => l.id === id, timeoutMs);
}

/** Event id → count, as the server holds them. */
export async function serverFindings(server: ServerProc): Promise<Map<string, number>> {
  if (server.kind === 'real') {
    const answer = await command(server, { cmd: 'findings' });
    return new Map((answer.items as Array<{ eventId: string; count: number }>).map((f) => [f.eventId, f.count]));
  }
  return readDb(server.db, (db) => new Map((db.prepare('SELECT event_id, count FROM findings').all() as Array<{ event_id: string; count: number }>).map((r) => [r.event_id, r.count])));
}

export function testServerCounter(db: string, name: string): number {
  return readDb(db, (d) => (d.prepare('SELECT value FROM counters WHERE name = ?').pluck().get(name) as number | undefined) ?? 0);
}

export function readDb<T>(path: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: 10_000 });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Event id → count of the agent's findings table. */
export function agentFindings(db: string): Map<string, number> {
  return readDb(db, (d) => new Map((d.prepare('SELECT event_id, count FROM findings').all() as Array<{ event_id: string; count: number }>).map((r) => [r.event_id, r.count])));
}

export interface OutboxLook {
  pending: number;
  lastSeq: number;
  dropped: number;
  entries: Array<{ seq: number; event_id: string; count: number }>;
}

export function agentOutbox(db: string): OutboxLook {
  return readDb(db, (d) => {
    const s = d.prepare('SELECT rows, last_seq, dropped FROM outbox_state WHERE id = 1').get() as { rows: number; last_seq: number; dropped: number } | undefined;
    const entries = (d.prepare('SELECT seq, event_id, doc FROM outbox ORDER BY seq').all() as Array<{ seq: number; event_id: string; doc: string }>).map((r) => ({
      seq: r.seq,
      event_id: r.event_id,
      count: (JSON.parse(r.doc) as { hunt: { count: number } }).hunt.count,
    }));
    return { pending: s?.rows ?? 0, lastSeq: s?.last_seq ?? 0, dropped: s?.dropped ?? 0, entries };
  });
}

export function writeAgentConfig(dir: string): string {
  const path = join(dir, 'agent.json');
  // Only this namespace's sockets; no conntrack (the test namespaces load no conntrack rules).
  writeFileSync(path, JSON.stringify({ netns: 'self', conntrack: false }));
  return path;
}

/**
 * How to run `sockhunt agent`: the built binary (bin/sockhunt.js) once the bundle has the agent command (the
 * global setup builds it), else the sources through test/agent/transport/support/agent-entry.ts.
 * SOCKHUNT_TEST_AGENT_BIN=path/to/runner.mjs picks another runner (taking the CLI arguments).
 */
export function agentArgv(): string[] {
  const override = process.env.SOCKHUNT_TEST_AGENT_BIN;
  if (override) return [process.execPath, override, 'agent'];
  const bundle = join(ROOT, 'dist/cli.mjs');
  if (existsSync(bundle) && /name:\s*"agent"/.test(readFileSync(bundle, 'utf8'))) return [process.execPath, join(ROOT, 'bin/sockhunt.js'), 'agent'];
  return [process.execPath, '--import', 'tsx', 'test/agent/transport/support/agent-entry.ts', 'agent'];
}

export function startAgent(
  lab: TransportLab,
  name: string,
  options: { port: number; db: string; config: string; secret?: boolean; learnFor?: string; extra?: string[]; timing?: Record<string, number> },
): Proc {
  const args = [
    ...agentArgv(),
    '--server', `ws://127.0.0.1:${options.port}`,
    '--learn-for', options.learnFor ?? '0s',
    '--interval', '300ms',
    '--db', options.db,
    '--config', options.config,
    ...(options.secret === false ? [] : ['--enroll-secret', SECRET]),
    ...(options.extra ?? []),
  ];
  return lab.start('host', name, args, options.timing ? { env: { SOCKHUNT_TEST_TIMING: JSON.stringify(options.timing) } } : {});
}

export async function startClient(lab: TransportLab, options: { ports?: number[]; every?: number; hold?: number; keep?: number } = {}): Promise<Proc> {
  const args = [process.execPath, 'test/agent/transport/support/programs/client.mjs', '--every', String(options.every ?? 400), '--hold', String(options.hold ?? 1500)];
  if (options.ports?.length) args.push('--targets', options.ports.map((p) => `${NET.remote}:${p}`).join(','));
  if (options.keep) args.push('--keep', `${NET.remote}:${options.keep}`);
  const proc = lab.start('host', 'client', args);
  await proc.waitLine((l) => l.ready === true, 30_000);
  return proc;
}

export async function startListener(lab: TransportLab): Promise<Proc> {
  const proc = lab.start('net', 'listener', [process.execPath, 'test/agent/transport/support/programs/listener.mjs', '--host', NET.remote, '--ports', PORTS.join(',')]);
  await proc.waitLine((l) => l.ready === true, 30_000);
  return proc;
}

/** The differences between two id → count maps (empty when equal). */
export function mapDiff(agent: Map<string, number>, server: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [id, n] of agent) if (server.get(id) !== n) out.push(`${id}: agent ${n}, server ${server.get(id) ?? 'missing'}`);
  for (const [id, n] of server) if (!agent.has(id)) out.push(`${id}: only on the server (${n})`);
  return out;
}
