// Facts about the host that detectors need besides sockets: its resolvers, its internal networks, its own
// addresses and the kernel's TCP counters. Cheap to call every sample: files are re-read at most every 30 s.
import { networkInterfaces } from 'node:os';
import { CidrSet, DEFAULT_INTERNAL_NETWORKS } from '../core/ip.js';
import { type ProcReader, type TcpCounters, fsProcReader, parseResolvConf, parseSnmpTcp } from '../collectors/procfs.js';

const REFRESH_MS = 30_000;
const SYSTEMD_STUB = '127.0.0.53';

export interface HostFactsOptions {
  reader?: ProcReader;
  /** Internal networks from the configuration; the host's own interface subnets are added to them. */
  internalNetworks?: string[];
  resolvConf?: string;
}

export class HostFactsSource {
  private readonly reader: ProcReader;
  private readonly configured: string[];
  private readonly resolvConf: string;
  private refreshedAt = -Infinity;
  private resolverList: string[] = [];
  private internal = new CidrSet();
  private local = new Set<string>();
  private lastCounters: TcpCounters | null = null;

  constructor(options: HostFactsOptions = {}) {
    this.reader = options.reader ?? fsProcReader;
    this.configured = options.internalNetworks ?? [...DEFAULT_INTERNAL_NETWORKS];
    this.resolvConf = options.resolvConf ?? '/etc/resolv.conf';
  }

  private refresh(now: number): void {
    if (now - this.refreshedAt < REFRESH_MS) return;
    this.refreshedAt = now;
    const text = this.reader.readText(this.resolvConf);
    let resolvers = text ? parseResolvConf(text) : [];
    if (resolvers.includes(SYSTEMD_STUB)) {
      // systemd-resolved's stub: its upstream servers are the ones it forwards to.
      const upstream = this.reader.readText('/run/systemd/resolve/resolv.conf');
      if (upstream) resolvers = [...new Set([...resolvers, ...parseResolvConf(upstream)])];
    }
    this.resolverList = resolvers;
    const internal = new CidrSet(this.configured);
    const local = new Set<string>();
    for (const addrs of Object.values(networkInterfaces())) {
      for (const a of addrs ?? []) {
        local.add(a.address.replace(/%.*$/, ''));
        if (!a.internal && a.cidr) internal.add(a.cidr.replace(/%[^/]*/, ''));
      }
    }
    this.internal = internal;
    this.local = local;
  }

  resolvers(now = Date.now()): string[] {
    this.refresh(now);
    return this.resolverList;
  }

  internalNetworks(now = Date.now()): CidrSet {
    this.refresh(now);
    return this.internal;
  }

  isLocalAddress(ip: string, now = Date.now()): boolean {
    this.refresh(now);
    return this.local.has(ip) || ip === '0.0.0.0' || ip === '::';
  }

  /** Change of the TCP counters since the previous call (null on the first call or when unreadable). */
  tcpCounterDelta(): { activeOpens: number; attemptFails: number; outRsts: number } | null {
    const text = this.reader.readText('/proc/net/snmp');
    const now = text ? parseSnmpTcp(text) : null;
    const prev = this.lastCounters;
    this.lastCounters = now;
    if (!now || !prev) return null;
    return {
      activeOpens: Math.max(0, now.activeOpens - prev.activeOpens),
      attemptFails: Math.max(0, now.attemptFails - prev.attemptFails),
      outRsts: Math.max(0, now.outRsts - prev.outRsts),
    };
  }
}
