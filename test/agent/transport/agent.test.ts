// `sockhunt agent` as real processes in a private network (two namespaces, TEST-NET addresses only): findings
// come from real connections a client makes to a listener "on the internet", go through the outbox and reach the
// server (the test server, or the real one from server/app.ts). The servers and agents are killed with SIGKILL
// mid-stream; in the end the server must hold exactly the agent's findings (same event ids, same counts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { NET, TransportLab, canUseNetns, until, type Proc } from './support/netns.js';
import { tempDir, type TempDir } from '../../support/tmp.js';
import {
  PORTS,
  agentArgv,
  agentFindings,
  agentOutbox,
  command,
  mapDiff,
  readDb,
  serverFindings,
  startAgent,
  startClient,
  startListener,
  startServer,
  testServerCounter,
  writeAgentConfig,
  type ServerKind,
  type ServerProc,
} from './support/agent-world.js';

const NETNS = canUseNetns();
const note = (text: string): void => void process.stderr.write(`[transport] ${text}\n`);
const LONG = 300_000;

let lab: TransportLab;
let dir: string;
let config: string;
let started: Proc[] = [];

function track<T extends Proc | ServerProc>(p: T): T {
  started.push('proc' in p ? p.proc : p);
  return p;
}

async function stopAll(): Promise<void> {
  for (const p of started.splice(0).reverse()) {
    try {
      await lab.kill(p);
    } catch {
      // already gone
    }
  }
}

/** Polls until the agent's outbox is empty and the server holds exactly the agent's findings. */
async function converged(server: ServerProc, db: string, agent: Proc, timeoutMs = 180_000): Promise<Map<string, number>> {
  let last: string[] = [];
  try {
    return await until(
      'the server to hold exactly the agent findings',
      async () => {
        if (agentOutbox(db).pending !== 0) return null;
        const mine = agentFindings(db);
        const theirs = await serverFindings(server);
        last = mapDiff(mine, theirs);
        return last.length === 0 && agentOutbox(db).pending === 0 ? mine : null;
      },
      timeoutMs,
      500,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\ndifferences: ${last.slice(0, 10).join('; ')}\nagent log:\n${agent.stderr().slice(-4000)}`);
  }
}

async function stopAgent(agent: Proc): Promise<{ code: number | null; log: string }> {
  const exit = await lab.kill(agent, 'SIGTERM', 30_000);
  return { code: exit.code, log: agent.stderr() };
}

describe.skipIf(!NETNS)('sockhunt agent processes in a private network', () => {
  beforeAll(async () => {
    lab = new TransportLab();
    lab.setUp();
    track(await startListener(lab));
  }, LONG);
  afterAll(async () => {
    await stopAll();
    await lab?.destroy();
  }, LONG);

  let testDir: TempDir;
  afterEach(async () => {
    // everything but the listener
    const listener = started[0];
    const rest = started.slice(1);
    started = listener ? [listener] : [];
    for (const p of rest.reverse()) await lab.kill(p).catch(() => undefined);
    testDir.remove();
  }, LONG);

  function freshDir(name: string): string {
    testDir = tempDir(`sockhunt-transport-${name}-`);
    dir = testDir.dir;
    config = writeAgentConfig(dir);
    return dir;
  }

  it.each<ServerKind>(['test', 'real'])(
    'server (%s) killed -9 mid-stream and restarted on its database: every finding arrives exactly once',
    async (kind) => {
      freshDir(`srvkill-${kind}`);
      const agentDb = join(dir, 'agent.db');
      const serverDb = join(dir, 'server.db');
      let server = track(await startServer(lab, kind, serverDb));
      const port = server.port;
      const agent = track(startAgent(lab, 'agent', { port, db: agentDb, config }));
      track(await startClient(lab, { ports: PORTS }));

      await until('findings on the server', async () => (await serverFindings(server)).size >= 3, 120_000, 500);
      await lab.kill(server.proc);
      const atKill = agentOutbox(agentDb).lastSeq;
      // findings keep coming while the server is away; they wait in the outbox
      await until('the agent to notice', () => /disconnected from the server|cannot connect/.test(agent.stderr()), 60_000);
      await until('findings queued while the server is down', () => {
        const o = agentOutbox(agentDb);
        return o.lastSeq >= atKill + 3 && o.pending >= 3;
      }, 120_000, 500);

      server = track(await startServer(lab, kind, serverDb, { port }));
      await until('the agent back', () => (agent.stderr().match(/connected to ws:/g) ?? []).length >= 2, 120_000, 500);
      await until('more findings after the restart', () => agentOutbox(agentDb).lastSeq >= atKill + 6, 120_000, 500);
      const client = started.find((p) => p.name === 'client')!;
      await lab.kill(client);

      const final = await converged(server, agentDb, agent);
      note(`server ${kind} kill -9: ${final.size} findings, ${[...final.values()].reduce((a, b) => a + b, 0)} occurrences, ${agentOutbox(agentDb).lastSeq} outbox seqs` +
        (kind === 'test' ? `, server received ${testServerCounter(serverDb, 'received')} seqs + ${testServerCounter(serverDb, 'duplicates')} duplicates` : ''));
      expect(final.size).toBeGreaterThanOrEqual(6);
      expect([...final.values()].some((n) => n > 1)).toBe(true); // updates travelled too
      if (kind === 'test') {
        // one row per (agent, seq) received: nothing was applied twice
        expect(testServerCounter(serverDb, 'received')).toBe(readDb(serverDb, (d) => d.prepare('SELECT count(*) FROM received').pluck().get() as number));
      }
      const stopped = await stopAgent(agent);
      expect(stopped.code, stopped.log).toBe(0);
      expect(stopped.log).toMatch(/stopped: 0 findings kept in the outbox/);
      expect(stopped.log).toMatch(/hunting with an empty baseline/);
    },
    LONG,
  );

  it(
    'agent killed -9 with findings sent but not acked: nothing in its outbox is lost; restarted with its token, everything arrives once',
    async () => {
      freshDir('agentkill');
      const agentDb = join(dir, 'agent.db');
      const serverDb = join(dir, 'server.db');
      let server = track(await startServer(lab, 'test', serverDb, { holdAcks: true }));
      const port = server.port;
      const first = track(startAgent(lab, 'agent-1', { port, db: agentDb, config }));
      const client = track(await startClient(lab, { ports: PORTS }));
      await until('batches received but not acked', () => {
        const received = testServerCounter(serverDb, 'received');
        return received >= 3 && agentOutbox(agentDb).pending >= 3;
      }, 120_000, 500);
      await lab.kill(first);
      await lab.kill(client);
      const before = agentOutbox(agentDb);
      const findings = agentFindings(agentDb);
      // every finding of the agent is in its outbox at its latest count: the server acked nothing
      expect(before.entries.length).toBe(findings.size);
      for (const e of before.entries) expect(findings.get(e.event_id)).toBe(e.count);
      for (const f of [agentDb, `${agentDb}-wal`, `${agentDb}-shm`]) expect(statSync(f).mode & 0o777).toBe(0o600);

      await lab.kill(server.proc);
      server = track(await startServer(lab, 'test', serverDb, { port }));
      // no enroll secret: the stored token is enough
      const second = track(startAgent(lab, 'agent-2', { port, db: agentDb, config, secret: false }));
      const final = await converged(server, agentDb, second);
      note(`agent kill -9: ${before.entries.length} findings waiting in the outbox at the kill (seqs ${before.entries[0]?.seq}..${before.lastSeq}); after restart ${testServerCounter(serverDb, 'duplicates')} duplicates dropped by the server`);
      expect(final.size).toBe(findings.size);
      expect(second.stderr()).toMatch(/authenticated with its token/);
      expect(testServerCounter(serverDb, 'enrollments')).toBe(1);
      // what the first server had committed came again, and was kept once
      expect(testServerCounter(serverDb, 'duplicates')).toBeGreaterThan(0);
      const stopped = await stopAgent(second);
      expect(stopped.code, stopped.log).toBe(0);
    },
    LONG,
  );

  it(
    'learns, then hunts; the server asks and the agent answers from its real sockets and baseline',
    async () => {
      freshDir('live');
      const agentDb = join(dir, 'agent.db');
      const allow = [{ process: '*', destination: '203.0.113.0/24', port: null, transport: null, comment: 'from welcome' }];
      const server = track(await startServer(lab, 'test', join(dir, 'server.db'), { allow }));
      // a connection held open the whole time, there while the agent learns
      const client = track(await startClient(lab, { keep: 4444 }));
      const agent = track(startAgent(lab, 'agent', { port: server.port, db: agentDb, config, learnFor: '3s' }));
      await until('hunting', () => /^sockhunt agent: hunting$/m.test(agent.stderr()), 120_000, 300);
      expect(agent.stderr()).toMatch(/learning for 3s, then hunting/);

      const snap = await command(server, { cmd: 'request', action: 'snapshot', params: { filters: { remote: NET.remote, state: ['established'] } } });
      const reply = snap.reply as { ok: boolean; result: { rows: Array<{ process: { pid: number | null }; destination: { ip: string; port: number } }> } };
      expect(reply.ok, JSON.stringify(snap)).toBe(true);
      expect(reply.result.rows.some((r) => r.process.pid === client.pid && r.destination.port === 4444 && r.destination.ip === NET.remote)).toBe(true);
      expect(reply.result.rows.every((r) => r.destination.ip === NET.remote)).toBe(true);

      const q = await command(server, { cmd: 'request', action: 'baseline.query', params: { ip: NET.remote, port: 4444, transport: 'tcp' } });
      const query = q.reply as { ok: boolean; result: { known: boolean; endpoints: Array<{ process: string }>; learning_ms: number } };
      expect(query.ok, JSON.stringify(q)).toBe(true);
      expect(query.result.known).toBe(true);
      expect(query.result.endpoints.some((e) => e.process.includes('client.mjs') || e.process.includes('node'))).toBe(true);
      expect(query.result.learning_ms).toBeGreaterThanOrEqual(2000);

      const bad = await command(server, { cmd: 'request', action: 'baseline.query', params: { ip: 'not-an-ip' } });
      expect(bad.reply).toMatchObject({ ok: false, error: { code: 'SOCKHUNT_E_PROTO_SCHEMA' } });
      const unknown = await command(server, { cmd: 'request', action: 'process.kill', params: {} });
      expect(unknown.reply).toMatchObject({ ok: false, error: { code: 'SOCKHUNT_E_REQUEST_UNKNOWN' } });

      const rules = [{ process: '*', destination: NET.remote, port: 4444, transport: 'tcp', comment: 'pushed' }];
      const pushed = await command(server, { cmd: 'request', action: 'baseline.allow', params: { rules } });
      expect(pushed.reply).toMatchObject({ ok: true, result: { rules: 1 } });
      const stored = readDb(agentDb, (d) => d.prepare("SELECT destination, comment FROM baseline_allow WHERE source = 'server'").all());
      expect(stored).toEqual([{ destination: NET.remote, comment: 'pushed' }]);
      // the welcome's rules were applied at connect (and replaced by the push since: the server's set is one list)
      expect(agent.stderr()).toMatch(/1 server allow rule\b/);
      const stopped = await stopAgent(agent);
      expect(stopped.code, stopped.log).toBe(0);
    },
    LONG,
  );

  it(
    'against the real server: enrolls, streams, and answers a snapshot through the hub',
    async () => {
      freshDir('real-live');
      const agentDb = join(dir, 'agent.db');
      const server = track(await startServer(lab, 'real', join(dir, 'server.db')));
      const client = track(await startClient(lab, { ports: PORTS.slice(0, 4), keep: 5555 }));
      const agent = track(startAgent(lab, 'agent', { port: server.port, db: agentDb, config }));
      await until('findings on the real server', async () => (await serverFindings(server)).size >= 2, 120_000, 500);
      const snap = await command(server, { cmd: 'request', action: 'snapshot', params: { filters: { pid: [client.pid] } } });
      const reply = snap.reply as { ok: boolean; result: { rows: Array<{ process: { pid: number }; destination: { port: number } }> } };
      expect(reply.ok, JSON.stringify(snap).slice(0, 2000)).toBe(true);
      expect(reply.result.rows.some((r) => r.process.pid === client.pid && r.destination.port === 5555)).toBe(true);
      const hosts = await command(server, { cmd: 'hosts' });
      expect((hosts.hosts as Array<{ agentId: string; facts: { ips: string[] } }>)[0]?.facts.ips).toContain(NET.host);
      await lab.kill(client);
      await converged(server, agentDb, agent);
      const stopped = await stopAgent(agent);
      expect(stopped.code, stopped.log).toBe(0);
    },
    LONG,
  );
});

describe('sockhunt agent command line', () => {
  function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const [node, ...argv] = agentArgv();
      const child = spawn(node!, [...argv, ...args], {
        cwd: new URL('../../../', import.meta.url).pathname,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });
  }

  it('refuses plain ws:// to a remote host without --insecure, and a first start without a secret (exit 2)', async () => {
    const tmp = tempDir('sockhunt-agent-usage-');
    try {
      const remote = await run(['--server', 'ws://198.51.100.7:8700', '--enroll-secret', 'x', '--db', join(tmp.dir, 'a.db')]);
      expect(remote.code).toBe(2);
      expect(remote.stderr).toMatch(/clear text.*--insecure.*\[SOCKHUNT_E_USAGE\]/);
      const noSecret = await run(['--server', 'ws://127.0.0.1:9', '--db', join(tmp.dir, 'a.db')]);
      expect(noSecret.code).toBe(2);
      expect(noSecret.stderr).toMatch(/not enrolled with ws:\/\/127\.0\.0\.1:9 yet: give --enroll-secret/);
      const badPin = await run(['--server', 'wss://127.0.0.1:9', '--pin', 'md5/xyz', '--enroll-secret', 'x', '--db', join(tmp.dir, 'a.db')]);
      expect(badPin.code).toBe(2);
      expect(badPin.stderr).toMatch(/--pin takes sha256/);
      const badLearn = await run(['--server', 'ws://127.0.0.1:9', '--learn-for', 'soon', '--enroll-secret', 'x', '--db', join(tmp.dir, 'a.db')]);
      expect(badLearn.code).toBe(2);
    } finally {
      tmp.remove();
    }
  }, LONG);
});
