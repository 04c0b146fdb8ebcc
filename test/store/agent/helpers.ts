// Shared fixtures for the store tests: temp directories and Connection rows.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Connection, SocketState, Transport } from '../../../collectors/types.js';

export function tempDir(): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sockhunt-store-'));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export interface RowSpec {
  pid?: number | null;
  executable?: string | null;
  commandLine?: string | null;
  name?: string | null;
  srcIp?: string;
  srcPort?: number;
  dstIp?: string;
  dstPort?: number;
  transport?: Transport;
  state?: SocketState;
  inode?: number;
  direction?: 'egress' | 'ingress' | null;
}

export function row(spec: RowSpec = {}): Connection {
  const dstIp = spec.dstIp ?? '203.0.113.10';
  const v6 = dstIp.includes(':');
  const state = spec.state ?? 'ESTABLISHED';
  const direction = spec.direction === null || state === 'LISTEN' ? undefined : (spec.direction ?? 'egress');
  return {
    '@timestamp': '2026-11-28T10:00:00.000Z',
    host: { name: 'test-host' },
    process: {
      pid: spec.pid === undefined ? 1234 : spec.pid,
      name: spec.name === undefined ? 'curl' : spec.name,
      executable: spec.executable === undefined ? '/usr/bin/curl' : spec.executable,
      command_line: spec.commandLine === undefined ? 'curl https://example.com' : spec.commandLine,
      parent: { pid: 1, name: 'systemd' },
    },
    user: { name: 'root', id: '0' },
    source: { ip: spec.srcIp ?? (v6 ? '2001:db8:ffff::2' : '192.0.2.2'), port: spec.srcPort ?? 40000 },
    destination: { ip: dstIp, port: spec.dstPort ?? 443 },
    network: { transport: spec.transport ?? 'tcp', type: v6 ? 'ipv6' : 'ipv4', ...(direction ? { direction } : {}) },
    socket: { state, inode: spec.inode ?? 1000, family: v6 ? 'inet6' : 'inet', owner_pids: [spec.pid ?? 1234] },
  };
}
