// Destination names from DNS responses: the parser on well-formed and hostile messages, the bounded cache, and
// the real tap (packet socket + BPF filter in the native addon) inside a private network namespace.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DnsNameCache, DnsNames, parseDnsMessage, parseDnsPacket } from '../../collectors/dns-names.js';
import { nativeAddon } from '../../collectors/sockdiag.js';

function name(n: string): number[] {
  return [...n.split('.').flatMap((l) => [l.length, ...Buffer.from(l, 'latin1')]), 0];
}
function rr(owner: number[], type: number, ttl: number, rdata: number[]): number[] {
  return [...owner, type >> 8, type & 255, 0, 1, (ttl >>> 24) & 255, (ttl >> 16) & 255, (ttl >> 8) & 255, ttl & 255, rdata.length >> 8, rdata.length & 255, ...rdata];
}
function response(q: string, answers: number[][], o: { flags?: number; qdcount?: number } = {}): Uint8Array {
  const flags = o.flags ?? 0x8180;
  return Uint8Array.from([0x12, 0x34, flags >> 8, flags & 255, 0, o.qdcount ?? 1, 0, answers.length, 0, 0, 0, 0, ...name(q), 0, 1, 0, 1, ...answers.flat()]);
}
const PTR = [0xc0, 0x0c];
function ipv4Udp(payload: Uint8Array, sport = 53): Uint8Array {
  const udpLen = payload.length + 8;
  const ip = [0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 198, 51, 100, 53, 192, 0, 2, 10];
  return Uint8Array.from([...ip, sport >> 8, sport & 255, 0xc3, 0x50, udpLen >> 8, udpLen & 255, 0, 0, ...payload]);
}

describe('parseDnsMessage', () => {
  it('names A and AAAA answers after the question, lower case', () => {
    const msg = response('Pool.Example.TEST', [rr(PTR, 1, 60, [203, 0, 113, 77]), rr(PTR, 28, 120, [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 0x77])]);
    expect(parseDnsMessage(msg)).toEqual([
      { ip: '203.0.113.77', name: 'pool.example.test', ttlSeconds: 60 },
      { ip: '2001:db8::77', name: 'pool.example.test', ttlSeconds: 120 },
    ]);
  });

  it('follows a CNAME chain and keeps the name that was asked for', () => {
    const target = name('edge.provider.test');
    const msg = response('cdn.example.test', [rr(PTR, 5, 300, target), rr(target, 1, 20, [198, 51, 100, 9])]);
    expect(parseDnsMessage(msg)).toEqual([{ ip: '198.51.100.9', name: 'cdn.example.test', ttlSeconds: 20 }]);
  });

  it('ignores queries, errors, other opcodes and several questions', () => {
    const a = [rr(PTR, 1, 60, [203, 0, 113, 77])];
    expect(parseDnsMessage(response('x.example.test', a, { flags: 0x0100 }))).toEqual([]);
    expect(parseDnsMessage(response('x.example.test', a, { flags: 0x8183 }))).toEqual([]);
    expect(parseDnsMessage(response('x.example.test', a, { flags: 0x8980 }))).toEqual([]);
    expect(parseDnsMessage(response('x.example.test', a, { qdcount: 2 }))).toEqual([]);
  });

  it('survives hostile messages: truncation, pointer loops, bad labels, wrong lengths', () => {
    const good = response('x.example.test', [rr(PTR, 1, 60, [203, 0, 113, 77])]);
    for (let cut = 0; cut < good.length; cut++) expect(() => parseDnsMessage(good.subarray(0, cut))).not.toThrow();
    expect(parseDnsMessage(good.subarray(0, good.length - 1))).toEqual([]);
    // the question is a pointer to itself
    const loop = Uint8Array.from([0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1]);
    expect(parseDnsMessage(loop)).toEqual([]);
    // terminal escapes and newlines in a label
    expect(parseDnsMessage(response('ev\x1bil\n.example.test', [rr(PTR, 1, 60, [203, 0, 113, 1])]))).toEqual([]);
    // an A record whose length is not 4
    expect(parseDnsMessage(response('x.example.test', [rr(PTR, 1, 60, [203, 0, 113])]))).toEqual([]);
    // a name longer than 253 characters
    expect(parseDnsMessage(response(`${'a'.repeat(60)}.`.repeat(5) + 'test', [rr(PTR, 1, 60, [203, 0, 113, 1])]))).toEqual([]);
    // random bytes never throw
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 255;
    for (let i = 0; i < 2000; i++) {
      const bytes = Uint8Array.from({ length: 12 + (i % 200) }, rand);
      bytes[2] = 0x81;
      bytes[3] = 0x80;
      bytes[5] = 1;
      expect(() => parseDnsMessage(bytes)).not.toThrow();
    }
  });
});

describe('parseDnsPacket', () => {
  it('reads the UDP payload of an IPv4 packet from port 53 only', () => {
    const msg = response('x.example.test', [rr(PTR, 1, 60, [203, 0, 113, 77])]);
    expect(parseDnsPacket(ipv4Udp(msg))).toHaveLength(1);
    expect(parseDnsPacket(ipv4Udp(msg, 5353))).toEqual([]);
    const tcp = ipv4Udp(msg);
    tcp[9] = 6;
    expect(parseDnsPacket(tcp)).toEqual([]);
    expect(parseDnsPacket(Uint8Array.from([0x45]))).toEqual([]);
    expect(parseDnsPacket(new Uint8Array(0))).toEqual([]);
  });

  it('keeps answers only from the servers the caller accepts', () => {
    const msg = response('x.example.test', [rr(PTR, 1, 60, [203, 0, 113, 77])]);
    const seen: string[] = [];
    expect(parseDnsPacket(ipv4Udp(msg), (ip) => (seen.push(ip), false))).toEqual([]);
    expect(seen).toHaveLength(1);
    expect(parseDnsPacket(ipv4Udp(msg), (ip) => ip === seen[0])).toHaveLength(1);
  });
});

describe('DnsNameCache', () => {
  const answer = (ip: string, n: string, ttlSeconds = 60) => ({ ip, name: n, ttlSeconds });

  it('keeps a name at least minKeepMs whatever its TTL, and expires it after', () => {
    const cache = new DnsNameCache({ minKeepMs: 60_000 });
    cache.add([answer('203.0.113.77', 'pool.example.test', 5)], 1_000);
    expect(cache.lookup('203.0.113.77', 50_000)).toBe('pool.example.test');
    expect(cache.lookup('203.0.113.77', 62_000)).toBeNull();
  });

  it('the newest answer for an address wins', () => {
    const cache = new DnsNameCache();
    cache.add([answer('198.51.100.9', 'a.example.test')], 0);
    cache.add([answer('198.51.100.9', 'b.example.test')], 1);
    expect(cache.lookup('198.51.100.9', 2)).toBe('b.example.test');
  });

  it('is bounded: the least recently answered addresses go first', () => {
    const cache = new DnsNameCache({ maxEntries: 100 });
    for (let i = 0; i < 1000; i++) cache.add([answer(`10.0.${i >> 8}.${i & 255}`, `h${i}.example.test`)], 0);
    expect(cache.size).toBe(100);
    expect(cache.lookup('10.0.0.0', 1)).toBeNull();
    expect(cache.lookup('10.0.3.231', 1)).toBe('h999.example.test');
  });
});

describe('DnsNames.open', () => {
  it('fails with SOCKHUNT_E_DNSTAP when there is no addon with a tap', () => {
    expect(() => DnsNames.open({ addon: null })).toThrow(expect.objectContaining({ code: 'SOCKHUNT_E_DNSTAP' }));
    expect(() => DnsNames.open({ addon: { dump: () => new ArrayBuffer(0) } })).toThrow(expect.objectContaining({ code: 'SOCKHUNT_E_DNSTAP' }));
  });

  it('turns a refused packet socket into SOCKHUNT_E_DNSTAP naming the capability', () => {
    const addon = {
      dnsTapOpen: () => {
        throw Object.assign(new Error('dns tap: socket(AF_PACKET): Operation not permitted'), { errno: 1 });
      },
      dnsTapRead: () => new ArrayBuffer(0),
      dnsTapDrops: () => 0,
      dnsTapClose: () => undefined,
    };
    expect(() => DnsNames.open({ addon })).toThrow(/CAP_NET_RAW/);
  });

  const canUnshare = process.getuid?.() === 0 && spawnSync('which', ['unshare']).status === 0 && nativeAddon() !== null;
  it.skipIf(!canUnshare)('names destinations from real DNS responses in a private network namespace', () => {
    const child = fileURLToPath(new URL('./support/dns-tap-child.ts', import.meta.url));
    const r = spawnSync('unshare', ['-rn', 'sh', '-c', `ip link set lo up && exec "${process.execPath}" --import tsx "${child}"`], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { stats: { packets: number; answers: number; drops: number }; lookups: Record<string, string | null>; second: { packets: number } };
    expect(out.lookups).toEqual({
      '203.0.113.77': 'pool.example.test',
      '2001:db8::77': 'pool.example.test',
      '198.51.100.9': 'cdn.example.test',
      '203.0.113.99': null, // the hostile name
      '192.0.2.1': null,
    });
    // four answers from the resolver (one NXDOMAIN) and the hostile one; the loopback copies sent are skipped
    expect(out.stats).toEqual({ packets: 5, answers: 3, drops: 0 });
    expect(out.second.packets).toBe(0);
  });

  it.skipIf(!canUnshare || spawnSync('which', ['python3']).status !== 0)(
    'reads only unicast answers to this host, and names only from the servers it is told to trust',
    () => {
      const child = fileURLToPath(new URL('./support/dns-tap-child.ts', import.meta.url));
      const setup = 'ip link set lo up && ip link add v0 type veth peer name v1 && ip addr add 192.0.2.10/24 dev v0 && ip link set v0 up && ip link set v1 up';
      const r = spawnSync('unshare', ['-rn', 'sh', '-c', `${setup} && exec "${process.execPath}" --import tsx "${child}"`], {
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, DNS_TAP_VETH: '1' },
      });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { forged: { stats: { packets: number; answers: number }; lookups: Record<string, string | null> } };
      expect(out.forged.lookups).toEqual({
        '198.51.100.1': 'resolver.example.test',
        '198.51.100.2': null, // unicast, but not from a trusted server
        '198.51.100.3': null, // broadcast
        '198.51.100.4': null, // for another host's MAC
      });
      // the broadcast and the other host's frame never leave the addon; the stranger's is read and refused
      expect(out.forged.stats).toMatchObject({ packets: 2, answers: 1 });
    },
  );
});
