// The single binary end to end: its `server` and its `agent`, each run from an empty directory with an empty
// environment (env -i, no node on PATH), inside a private network namespace lab (TEST-NET addresses only). A real
// client connection to a listener on port 4444 is flagged by the agent's detectors, streamed to the server, and
// read back through the server's REST API from inside the namespace.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canUseNetns, NET, type Proc, TransportLab, until } from '../agent/transport/support/netns.js';
import { readDb, startClient, startListener } from '../agent/transport/support/agent-world.js';
import { tempDir, type TempDir } from '../support/tmp.js';
import { binaryTarget, ensureBinary } from './single-binary.js';

const ENROLL = 'binary-stream-enroll-secret';
const TOKEN = 'binary-stream-api-token-0123456789';
const PORT = 18_700 + Math.floor(Math.random() * 1000);

interface FindingOut {
  host: { id: string; name?: string };
  destination: { ip: string; port: number };
  sockhunt: { agent_id: string };
}

describe.runIf(binaryTarget === 'linux-x64' && canUseNetns())('the single binary: agent streams a finding to server', () => {
  let lab: TransportLab;
  let dir: string; // holds nothing but the binary
  let data: string; // databases, config, state
  let dirTmp: TempDir | undefined;
  let dataTmp: TempDir | undefined;
  let server: Proc;
  let agent: Proc;

  /** argv running ./sockhunt from `dir` with env -i and only `vars` (PATH without node). */
  const binary = (args: string[], vars: Record<string, string>): string[] => [
    '/usr/bin/env',
    '-i',
    '-C',
    dir,
    ...Object.entries({ PATH: '/nonexistent', HOME: data, SOCKHUNT_HOME: join(data, 'state'), ...vars }).map(([k, v]) => `${k}=${v}`),
    './sockhunt',
    ...args,
  ];

  /** GET on the server's REST API, run with curl inside the host namespace. */
  const api = (path: string): unknown => {
    const out = execFileSync(
      'ip',
      ['netns', 'exec', lab.hostNs, 'curl', '-sS', '--fail', '--max-time', '5', '-H', `Authorization: Bearer ${TOKEN}`, `http://127.0.0.1:${PORT}${path}`],
      { encoding: 'utf8', timeout: 15_000 },
    );
    return JSON.parse(out);
  };

  beforeAll(async () => {
    const built = ensureBinary();
    dirTmp = tempDir('sockhunt-binstream-');
    dataTmp = tempDir('sockhunt-binstream-data-');
    dir = dirTmp.dir;
    data = dataTmp.dir;
    copyFileSync(built, join(dir, 'sockhunt'));
    chmodSync(join(dir, 'sockhunt'), 0o755);
    // Only this namespace's sockets; no conntrack (the lab loads no conntrack rules).
    writeFileSync(join(data, 'agent.yaml'), 'netns: self\nconntrack: false\n');
    lab = new TransportLab();
    lab.setUp();
  }, 600_000);

  afterAll(async () => {
    await lab?.destroy();
    dirTmp?.remove();
    dataTmp?.remove();
  }, 60_000);

  it('a connection to TEST-NET port 4444 arrives on the server as a finding of that agent', async () => {
    expect(readdirSync(dir)).toEqual(['sockhunt']);

    server = lab.start(
      'host',
      'binary-server',
      binary(['server', '--listen', `127.0.0.1:${PORT}`, '--db', join(data, 'server.db')], { SOCKHUNT_ENROLL_SECRET: ENROLL, SOCKHUNT_API_TOKEN: TOKEN }),
    );
    await until(
      'the server to listen',
      () => {
        if (server.child.exitCode !== null) throw new Error(`server exited ${server.child.exitCode}: ${server.stderr()}`);
        return /listening on http:\/\/127\.0\.0\.1:\d+/.test(server.stderr());
      },
      60_000,
    );

    agent = lab.start(
      'host',
      'binary-agent',
      binary(
        ['agent', '--server', `ws://127.0.0.1:${PORT}`, '--learn-for', '0s', '--interval', '300ms', '--db', join(data, 'agent.db'), '--config', join(data, 'agent.yaml')],
        { SOCKHUNT_ENROLL_SECRET: ENROLL },
      ),
    );

    // Real traffic: a listener on 198.51.100.7 (the "internet" namespace), a client in the host namespace.
    await startListener(lab);
    await startClient(lab, { ports: [4444], every: 400, hold: 1500 });

    const finding = await until(
      'a finding for port 4444 on the server',
      () => {
        if (agent.child.exitCode !== null) throw new Error(`agent exited ${agent.child.exitCode}: ${agent.stderr()}`);
        const body = api('/api/findings') as { findings: FindingOut[] };
        return body.findings.find((f) => f.destination?.port === 4444 && f.destination?.ip === NET.remote);
      },
      90_000,
      500,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\nagent stderr:\n${agent.stderr().slice(-3000)}\nserver stderr:\n${server.stderr().slice(-3000)}`);
    });

    const agentId = readDb(join(data, 'agent.db'), (db) => db.prepare("SELECT value FROM meta WHERE key = 'host.id'").pluck().get() as string);
    expect(agentId).toMatch(/^[0-9a-f-]{36}$/);
    expect(finding.destination.port).toBe(4444);
    expect(finding.destination.ip).toBe(NET.remote);
    expect(finding.host.id).toBe(agentId);
    expect(finding.sockhunt.agent_id).toBe(agentId);

    const hosts = api('/api/hosts') as { hosts: Array<{ id: string }> };
    expect(hosts.hosts.map((h) => h.id)).toContain(agentId);

    // Both ran as the binary, without node: stop them by pid (SIGTERM: a clean shutdown).
    const agentExit = await lab.kill(agent, 'SIGTERM', 30_000);
    const serverExit = await lab.kill(server, 'SIGTERM', 30_000);
    expect(agentExit.code, agent.stderr()).toBe(0);
    expect(serverExit.code, server.stderr()).toBe(0);
  }, 240_000);
});
