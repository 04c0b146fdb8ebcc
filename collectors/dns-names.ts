// Destination names from the DNS responses this host receives. The native addon's tap (collectors/native/dnstap.c)
// queues UDP packets from port 53; each sample drains them, and the A/AAAA answers become an address → name cache
// that the baseline's domain grain and the detectors (pool domains, finding evidence) read. Only the agent's own
// network namespace is seen, and only DNS over UDP (not DoT/DoH, not TCP). Every byte here comes from the network,
// so parsing is bounded: names by RFC 1035 limits, compression pointers by a hop count, records by the packet.
import { endianness } from 'node:os';
import { SockhuntError } from '../core/errors.js';
import { formatIPv4Bytes, formatIPv6Bytes } from '../core/ip.js';
import { nativeAddon } from './sockdiag.js';

export interface DnsAnswer {
  ip: string;
  /** The name that was asked for (the question), lower case, without the trailing dot. */
  name: string;
  ttlSeconds: number;
}

const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
const MAX_NAME = 253;
const MAX_POINTER_HOPS = 32;
const MAX_ANSWERS = 64;
/** Printable hostname characters; anything else makes the name unusable (and is never shown to an analyst). */
const NAME_CHARS = /^[a-z0-9_-]+$/;

/** Reads a possibly compressed name at `offset`; returns it and the offset after it in place, or null. */
function readName(msg: Uint8Array, offset: number): { name: string; next: number } | null {
  const labels: string[] = [];
  let length = 0;
  let pos = offset;
  let next = -1;
  for (let hops = 0; hops <= MAX_POINTER_HOPS; ) {
    if (pos >= msg.length) return null;
    const len = msg[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      const name = labels.join('.');
      return { name, next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= msg.length) return null;
      if (next < 0) next = pos + 2;
      pos = ((len & 0x3f) << 8) | msg[pos + 1]!;
      hops++;
      continue;
    }
    if (len & 0xc0) return null; // the reserved label types
    if (pos + 1 + len > msg.length) return null;
    length += len + 1;
    if (length > MAX_NAME + 1) return null;
    let label = '';
    for (let i = pos + 1; i <= pos + len; i++) label += String.fromCharCode(msg[i]!);
    label = label.toLowerCase();
    if (!NAME_CHARS.test(label)) return null;
    labels.push(label);
    pos += 1 + len;
  }
  return null;
}

/**
 * The offset after a possibly compressed name at `offset` in place, or -1: its labels are walked, not decoded
 * (an answer's owner name is only skipped, and a hostile packet may hold 64 of them).
 */
function skipName(msg: Uint8Array, offset: number): number {
  let pos = offset;
  let length = 0;
  for (;;) {
    if (pos >= msg.length) return -1;
    const len = msg[pos]!;
    if (len === 0) return pos + 1;
    if ((len & 0xc0) === 0xc0) return pos + 1 < msg.length ? pos + 2 : -1;
    if (len & 0xc0) return -1;
    length += len + 1;
    if (length > MAX_NAME + 1) return -1;
    pos += 1 + len;
  }
}

/** A/AAAA answers of a DNS response message (the UDP payload); [] for anything else or anything malformed. */
export function parseDnsMessage(msg: Uint8Array): DnsAnswer[] {
  if (msg.length < 12) return [];
  const flags = (msg[2]! << 8) | msg[3]!;
  const isResponse = (flags & 0x8000) !== 0;
  const opcode = (flags >> 11) & 0xf;
  const rcode = flags & 0xf;
  if (!isResponse || opcode !== 0 || rcode !== 0) return [];
  const qdcount = (msg[4]! << 8) | msg[5]!;
  const ancount = (msg[6]! << 8) | msg[7]!;
  if (qdcount !== 1 || ancount === 0) return [];
  const question = readName(msg, 12);
  if (!question || question.name === '' || question.next + 4 > msg.length) return [];
  let pos = question.next + 4;
  const out: DnsAnswer[] = [];
  for (let i = 0; i < Math.min(ancount, MAX_ANSWERS); i++) {
    const p = skipName(msg, pos);
    if (p < 0 || p + 10 > msg.length) break;
    const type = (msg[p]! << 8) | msg[p + 1]!;
    const cls = (msg[p + 2]! << 8) | msg[p + 3]!;
    const ttl = ((msg[p + 4]! << 24) >>> 0) + ((msg[p + 5]! << 16) | (msg[p + 6]! << 8) | msg[p + 7]!);
    const rdlength = (msg[p + 8]! << 8) | msg[p + 9]!;
    const rdata = p + 10;
    if (rdata + rdlength > msg.length) break;
    // The question names what the application asked for; CNAME targets along the way are the provider's names.
    if (cls === CLASS_IN && type === TYPE_A && rdlength === 4) out.push({ ip: formatIPv4Bytes(msg, rdata), name: question.name, ttlSeconds: ttl });
    if (cls === CLASS_IN && type === TYPE_AAAA && rdlength === 16) out.push({ ip: formatIPv6Bytes(msg, rdata), name: question.name, ttlSeconds: ttl });
    pos = rdata + rdlength;
  }
  return out;
}

/**
 * Answers in one captured packet, starting at its IPv4 or IPv6 header; [] unless it is UDP from port 53 and,
 * when `fromServer` is given, from an address it accepts.
 */
export function parseDnsPacket(packet: Uint8Array, fromServer?: (ip: string) => boolean): DnsAnswer[] {
  if (packet.length < 1) return [];
  const version = packet[0]! >> 4;
  let udp: number;
  if (version === 4) {
    const ihl = (packet[0]! & 0xf) * 4;
    if (ihl < 20 || packet.length < ihl + 8 || packet[9] !== 17) return [];
    udp = ihl;
  } else if (version === 6) {
    if (packet.length < 48 || packet[6] !== 17) return [];
    udp = 40;
  } else {
    return [];
  }
  const sport = (packet[udp]! << 8) | packet[udp + 1]!;
  if (sport !== 53) return [];
  if (fromServer && !fromServer(version === 4 ? formatIPv4Bytes(packet, 12) : formatIPv6Bytes(packet, 8))) return [];
  const udpLength = (packet[udp + 4]! << 8) | packet[udp + 5]!;
  const end = Math.min(packet.length, udp + Math.max(8, udpLength));
  return parseDnsMessage(packet.subarray(udp + 8, end));
}

export interface DnsNameCacheOptions {
  /** Most addresses remembered; the least recently answered go first (default 20,000). */
  maxEntries?: number;
  /** A name is kept at least this long whatever its TTL: connections outlive short TTLs (default 30 min). */
  minKeepMs?: number;
  /** ... and at most this long (default 24 h). */
  maxKeepMs?: number;
}

/** Address → the name last asked for it, with expiry, bounded in size. */
export class DnsNameCache {
  private readonly entries = new Map<string, { name: string; expiresAt: number }>();
  private readonly maxEntries: number;
  private readonly minKeepMs: number;
  private readonly maxKeepMs: number;

  constructor(options: DnsNameCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 20_000;
    this.minKeepMs = options.minKeepMs ?? 30 * 60_000;
    this.maxKeepMs = options.maxKeepMs ?? 24 * 3_600_000;
  }

  add(answers: readonly DnsAnswer[], now: number): void {
    for (const a of answers) {
      const keep = Math.min(this.maxKeepMs, Math.max(this.minKeepMs, a.ttlSeconds * 1000));
      this.entries.delete(a.ip); // re-inserted last: Map order is the eviction order
      this.entries.set(a.ip, { name: a.name, expiresAt: now + keep });
    }
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  lookup(ip: string, now: number): string | null {
    const e = this.entries.get(ip);
    if (!e) return null;
    if (e.expiresAt < now) {
      this.entries.delete(ip);
      return null;
    }
    return e.name;
  }

  get size(): number {
    return this.entries.size;
  }
}

interface DnsTapBinding {
  dnsTapOpen(receiveBufferBytes: number): number;
  dnsTapRead(fd: number, maxBytes: number): ArrayBuffer;
  dnsTapDrops(fd: number): number;
  dnsTapClose(fd: number): void;
}

function isTapBinding(b: Record<string, unknown> | null): b is Record<string, unknown> & DnsTapBinding {
  return b !== null && ['dnsTapOpen', 'dnsTapRead', 'dnsTapDrops', 'dnsTapClose'].every((f) => typeof b[f] === 'function');
}

export interface DnsPollStats {
  packets: number;
  answers: number;
  /** Packets the kernel dropped since the last poll because nobody read them in time. */
  drops: number;
}

const LITTLE_ENDIAN = endianness() === 'LE';
/** Per-poll read bound: far above a busy host's DNS in one second, and it keeps one poll short. */
const READ_BYTES = 4 << 20;

export class DnsNames {
  readonly cache: DnsNameCache;

  private constructor(
    private readonly tap: DnsTapBinding,
    private fd: number,
    options: DnsNameCacheOptions,
  ) {
    this.cache = new DnsNameCache(options);
  }

  /**
   * Opens the tap. Fails with SOCKHUNT_E_DNSTAP when the addon is missing or the kernel refuses the packet
   * socket (it needs CAP_NET_RAW); the agent then runs without destination names.
   */
  static open(options: DnsNameCacheOptions & { addon?: Record<string, unknown> | null } = {}): DnsNames {
    const addon = options.addon === undefined ? nativeAddon() : options.addon;
    if (!isTapBinding(addon)) {
      throw new SockhuntError('SOCKHUNT_E_DNSTAP', 'destination names are unavailable: the native addon (with its DNS tap) is not loaded');
    }
    try {
      return new DnsNames(addon, addon.dnsTapOpen(1 << 20), options);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new SockhuntError('SOCKHUNT_E_DNSTAP', `destination names are unavailable: ${reason} (the DNS tap needs CAP_NET_RAW)`, { cause: err });
    }
  }

  /** Reads what queued since the last poll into the cache: answers from the servers `fromServer` accepts. */
  poll(now: number, fromServer?: (ip: string) => boolean): DnsPollStats {
    const stats: DnsPollStats = { packets: 0, answers: 0, drops: 0 };
    if (this.fd < 0) return stats;
    const buf = new Uint8Array(this.tap.dnsTapRead(this.fd, READ_BYTES));
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let o = 0; o + 4 <= buf.length; ) {
      const len = view.getUint32(o, LITTLE_ENDIAN); // written in native order by dnstap.c
      if (o + 4 + len > buf.length) break;
      const answers = parseDnsPacket(buf.subarray(o + 4, o + 4 + len), fromServer);
      this.cache.add(answers, now);
      stats.packets++;
      stats.answers += answers.length;
      o += 4 + len;
    }
    stats.drops = this.tap.dnsTapDrops(this.fd);
    return stats;
  }

  lookup(ip: string, now: number): string | null {
    return this.cache.lookup(ip, now);
  }

  close(): void {
    if (this.fd >= 0) this.tap.dnsTapClose(this.fd);
    this.fd = -1;
  }
}
