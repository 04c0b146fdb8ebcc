// The baseline in memory, so that detection answers each question with one Set/Map lookup.
import type { Transport } from '../../collectors/types.js';
import type { BaselineView } from '../../core/views.js';
import type { ProcessKey } from '../../core/process-key.js';
import { AllowIndex, type AllowRule } from '../../core/allow.js';
import { canonicalIp } from '../../core/ip.js';
import { domainValue, networkValue, type Grain } from './grains.js';

/** Everything known about one process; nested maps keep lookups free of string building where possible. */
interface ProcessEntry {
  connections: number;
  dns: number;
  /** Canonical ip → port/transport codes. */
  endpoints: Map<string, Set<number>>;
  networks: Set<string>;
  ports: Set<number>;
  domains: Set<string>;
}

const portCode = (port: number, transport: Transport): number => port * 2 + (transport === 'udp' ? 1 : 0);

/** Hot-path address form: IPv4 text is used as given (a malformed one simply matches nothing). */
const lookupIp = (ip: string): string | null => (ip.includes(':') ? canonicalIp(ip) : ip);

const ENDPOINT = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)\/(tcp|udp)$/;
const PORT = /^(\d+)\/(tcp|udp)$/;

export class BaselineMemory implements BaselineView {
  private processes = new Map<ProcessKey, ProcessEntry>();
  private allow = new AllowIndex();
  private learningMs = 0;
  private changes = 0;

  /** Grows with every change of what the view answers (BaselineView.version): detectors cache on it. */
  version(): number {
    return this.changes;
  }

  /** Replaces everything (a reload); the object stays the same so holders of the view see the new content. */
  reset(learningMs: number, allow: Iterable<AllowRule>): void {
    this.processes = new Map();
    this.allow = new AllowIndex(allow);
    this.learningMs = learningMs;
    this.changes++;
  }

  addLearningTime(ms: number): void {
    if (ms === 0) return;
    this.learningMs += ms;
    this.changes++;
  }

  private entry(key: ProcessKey): ProcessEntry {
    let e = this.processes.get(key);
    if (!e) {
      e = { connections: 0, dns: 0, endpoints: new Map(), networks: new Set(), ports: new Set(), domains: new Set() };
      this.processes.set(key, e);
    }
    return e;
  }

  addProcess(key: ProcessKey, connections: number, dns: number): void {
    this.changes++;
    const e = this.entry(key);
    e.connections += connections;
    e.dns += dns;
  }

  /** Adds a destination in its stored text form (see grains.ts); values that do not parse are ignored. */
  addDestination(key: ProcessKey, grain: Grain, value: string): void {
    this.changes++;
    const e = this.entry(key);
    switch (grain) {
      case 'endpoint': {
        const m = ENDPOINT.exec(value);
        const ip = m?.[1] ?? m?.[2];
        if (!m || ip === undefined) return;
        const code = portCode(Number(m[3]), m[4] as Transport);
        const ports = e.endpoints.get(ip);
        if (ports) ports.add(code);
        else e.endpoints.set(ip, new Set([code]));
        return;
      }
      case 'network':
        e.networks.add(value);
        return;
      case 'port': {
        const m = PORT.exec(value);
        if (m) e.ports.add(portCode(Number(m[1]), m[2] as Transport));
        return;
      }
      case 'domain':
        e.domains.add(value);
        return;
    }
  }

  processCount(): number {
    return this.processes.size;
  }

  hasProcess(key: ProcessKey): boolean {
    return this.processes.has(key);
  }

  hasEndpoint(key: ProcessKey, ip: string, port: number, transport: Transport): boolean {
    const e = this.processes.get(key);
    if (!e) return false;
    const canonical = lookupIp(ip);
    return canonical !== null && (e.endpoints.get(canonical)?.has(portCode(port, transport)) ?? false);
  }

  hasNetwork(key: ProcessKey, ip: string): boolean {
    const e = this.processes.get(key);
    if (!e) return false;
    const canonical = lookupIp(ip);
    const network = canonical === null ? null : networkValue(canonical);
    return network !== null && e.networks.has(network);
  }

  hasPort(key: ProcessKey, port: number, transport: Transport): boolean {
    return this.processes.get(key)?.ports.has(portCode(port, transport)) ?? false;
  }

  /** Whether the process resolved or connected to this DNS name during learning (not in BaselineView yet). */
  hasDomain(key: ProcessKey, domain: string): boolean {
    const value = domainValue(domain);
    return value !== null && (this.processes.get(key)?.domains.has(value) ?? false);
  }

  /** Connection starts per minute over the learning time: all its egress connections, loopback included. */
  connectionRate(key: ProcessKey): number | null {
    const counts = this.processes.get(key);
    if (!counts || this.learningMs <= 0) return null;
    return counts.connections / (this.learningMs / 60_000);
  }

  /** Connections to remote port 53 (any address, loopback stub resolvers included) per minute of learning. */
  dnsRate(key: ProcessKey): number | null {
    const counts = this.processes.get(key);
    if (!counts || this.learningMs <= 0) return null;
    return counts.dns / (this.learningMs / 60_000);
  }

  isAllowed(key: ProcessKey, ip: string, port: number, transport: Transport): boolean {
    return this.allow.matches(key, ip, port, transport);
  }

  learningTimeMs(): number {
    return this.learningMs;
  }
}
