// Host facts for the server's hello: host name, OS, kernel, platform, architecture and the host's addresses.
// From systeminformation (osInfo, networkInterfaces), each call bounded by a deadline, with node:os as the
// fallback for whatever it cannot tell in time; cached, so a reconnect storm costs nothing.
import os from 'node:os';
import type { HostFactsWire } from '../core/protocol.js';

export interface HostInfoOptions {
  /** How long systeminformation may take (default 5 s); past it, node:os answers. */
  timeoutMs?: number;
  /** How long the facts are reused (default 10 min). */
  ttlMs?: number;
  /** Injected in tests. */
  source?: HostInfoSource;
}

/** What systeminformation gives (only the fields read here); any of it may be missing. */
export interface HostInfoSource {
  osInfo(): Promise<{ distro?: string; release?: string; kernel?: string; platform?: string; arch?: string } | null | undefined>;
  networkInterfaces(): Promise<unknown>;
}

const clip = (text: string, max: number): string => (text.length > max ? text.slice(0, max) : text);

async function systemInformation(): Promise<HostInfoSource> {
  const si = (await import('systeminformation')).default;
  return {
    osInfo: () => si.osInfo(),
    networkInterfaces: () => si.networkInterfaces() as Promise<unknown>,
  };
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    timer.unref?.();
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(null);
      },
    );
  });
}

function cleanIp(ip: string): string {
  return ip.replace(/%.*$/, '');
}

function isUsefulIp(ip: string): boolean {
  if (ip === '' || ip === '::1' || ip.startsWith('127.') || ip === '0.0.0.0' || ip === '::') return false;
  return !/^fe80:/i.test(ip);
}

function osIps(): string[] {
  const out: string[] = [];
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs ?? []) if (!a.internal) out.push(cleanIp(a.address));
  }
  return out;
}

function siIps(data: unknown): string[] | null {
  const list = Array.isArray(data) ? data : data && typeof data === 'object' ? [data] : null;
  if (!list) return null;
  const out: string[] = [];
  for (const nic of list as Array<Record<string, unknown>>) {
    if (!nic || typeof nic !== 'object' || nic.internal === true) continue;
    for (const key of ['ip4', 'ip6']) {
      const v = nic[key];
      if (typeof v === 'string' && v !== '') out.push(cleanIp(v));
    }
  }
  return out;
}

/** Facts within the limits of HostFactsSchema (strings cut, at most 256 addresses). */
export async function collectHostFacts(options: HostInfoOptions = {}): Promise<HostFactsWire> {
  const timeoutMs = options.timeoutMs ?? 5000;
  let source: HostInfoSource | null = options.source ?? null;
  if (!source) source = await withDeadline(systemInformation(), timeoutMs);
  const [info, nics] = source
    ? await Promise.all([withDeadline(source.osInfo(), timeoutMs), withDeadline(source.networkInterfaces(), timeoutMs)])
    : [null, null];
  const osName = info?.distro ? `${info.distro}${info.release ? ` ${info.release}` : ''}` : `${os.type()} ${os.release()}`;
  const ips = [...new Set((siIps(nics) ?? osIps()).filter(isUsefulIp))].map((ip) => clip(ip, 64)).slice(0, 256);
  return {
    hostname: clip(os.hostname() || 'unknown', 255),
    os: clip(osName.trim() || os.type(), 1024),
    kernel: clip(info?.kernel || os.release(), 1024),
    platform: clip(info?.platform || process.platform, 32),
    arch: clip(info?.arch || process.arch, 32),
    ips,
  };
}

/** Cached host facts: one systeminformation round per `ttlMs`, concurrent callers share it. */
export class HostInfo {
  private cached: { at: number; facts: HostFactsWire } | null = null;
  private inflight: Promise<HostFactsWire> | null = null;

  constructor(private readonly options: HostInfoOptions = {}) {}

  get(now = Date.now()): Promise<HostFactsWire> {
    const ttl = this.options.ttlMs ?? 600_000;
    if (this.cached && now - this.cached.at < ttl) return Promise.resolve(this.cached.facts);
    this.inflight ??= collectHostFacts(this.options).then(
      (facts) => {
        this.cached = { at: Date.now(), facts };
        this.inflight = null;
        return facts;
      },
      (err: unknown) => {
        this.inflight = null;
        throw err;
      },
    );
    return this.inflight;
  }
}
