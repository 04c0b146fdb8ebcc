// Runs inside a private network namespace (unshare -rn): a small authoritative DNS server on 127.0.0.1:53 that
// answers after 20 ms, queried through Node's own resolver (c-ares), while DnsNames taps the responses.
// Prints one JSON line: what the cache names each address, and the poll statistics.
import dgram from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { DnsNames } from '../../../collectors/dns-names.js';

const ZONE: Record<string, { a?: string[]; aaaa?: string[]; cname?: string }> = {
  'pool.example.test': { a: ['203.0.113.77'], aaaa: ['2001:db8::77'] },
  'cdn.example.test': { cname: 'edge.provider.test' },
  'edge.provider.test': { a: ['198.51.100.9'] },
};

function encodeName(name: string): Buffer {
  return Buffer.concat([...name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

function rr(nameOrPointer: Buffer, type: number, ttl: number, rdata: Buffer): Buffer {
  const h = Buffer.alloc(10);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(1, 2);
  h.writeUInt32BE(ttl, 4);
  h.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([nameOrPointer, h, rdata]);
}

function answer(query: Buffer): Buffer {
  let pos = 12;
  const labels: string[] = [];
  while (query[pos]! !== 0) {
    labels.push(query.subarray(pos + 1, pos + 1 + query[pos]!).toString('latin1'));
    pos += 1 + query[pos]!;
  }
  const qtype = query.readUInt16BE(pos + 1);
  const question = query.subarray(12, pos + 5);
  let name = labels.join('.').toLowerCase();
  const answers: Buffer[] = [];
  let owner: Buffer = Buffer.from([0xc0, 0x0c]);
  for (let hops = 0; hops < 4; hops++) {
    const entry = ZONE[name];
    if (!entry) break;
    if (entry.cname) {
      const target = encodeName(entry.cname);
      answers.push(rr(owner, 5, 300, target));
      owner = target;
      name = entry.cname;
      continue;
    }
    for (const ip of qtype === 1 ? entry.a ?? [] : qtype === 28 ? entry.aaaa ?? [] : []) {
      const rdata = qtype === 1 ? Buffer.from(ip.split('.').map(Number)) : ipv6Bytes(ip);
      answers.push(rr(owner, qtype, 60, rdata));
    }
    break;
  }
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(answers.length > 0 || ZONE[labels.join('.').toLowerCase()] ? 0x8180 : 0x8183, 2); // NXDOMAIN when unknown
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, question, ...answers]);
}

function ipv6Bytes(ip: string): Buffer {
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

const names = DnsNames.open();
const server = dgram.createSocket('udp4');
server.on('message', (msg, rinfo) => {
  setTimeout(() => server.send(answer(msg), rinfo.port, rinfo.address), 20);
});
await new Promise<void>((resolve) => server.bind(53, '127.0.0.1', resolve));

const resolver = new Resolver({ timeout: 2000, tries: 1 });
resolver.setServers(['127.0.0.1']);
await resolver.resolve4('pool.example.test');
await resolver.resolve6('pool.example.test');
await resolver.resolve4('cdn.example.test');
await resolver.resolve4('missing.example.test').catch(() => undefined);
// A hostile name (escape and newline bytes) straight over UDP: it must not be cached.
const hostile = Buffer.concat([Buffer.from([0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]), encodeName('ev\x1bil\n.example.test'), Buffer.from([0, 1, 0, 1]), rr(Buffer.from([0xc0, 0x0c]), 1, 60, Buffer.from([203, 0, 113, 99]))]);
const raw = dgram.createSocket('udp4');
await new Promise<void>((resolve) => raw.bind(0, '127.0.0.1', resolve));
await new Promise<void>((resolve) => server.send(hostile, raw.address().port, '127.0.0.1', () => resolve()));
await new Promise((resolve) => setTimeout(resolve, 100));

const now = Date.now();
const stats = names.poll(now);
const lookups = Object.fromEntries(['203.0.113.77', '2001:db8::77', '198.51.100.9', '203.0.113.99', '192.0.2.1'].map((ip) => [ip, names.lookup(ip, now)]));
const second = names.poll(now);

// Forged answers on the wire (when the caller set up veth pair v0 192.0.2.10/24 — v1): Ethernet frames written on
// v1 towards v0, each naming another address, all from source port 53. Only unicast to this host, from a server
// the caller accepts (192.0.2.53), may name anything.
let forged: { stats: unknown; lookups: Record<string, string | null> } | null = null;
if (process.env.DNS_TAP_VETH === '1') {
  const { execFileSync } = await import('node:child_process');
  // (not /sys/class/net: without a remount it shows the namespace sysfs was mounted in)
  const mac = /link\/ether ([0-9a-f:]{17})/.exec(execFileSync('ip', ['-o', 'link', 'show', 'v0'], { encoding: 'utf8' }))?.[1] ?? '';
  const msg = (name: string, ip: number[]): string =>
    Buffer.concat([Buffer.from([0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]), encodeName(name), Buffer.from([0, 1, 0, 1]), rr(Buffer.from([0xc0, 0x0c]), 1, 60, Buffer.from(ip))]).toString('hex');
  const frames = [
    { dst: mac, src: '192.0.2.53', name: 'resolver.example.test', ip: [198, 51, 100, 1] }, // unicast, from the resolver
    { dst: mac, src: '198.51.100.250', name: 'stranger.example.test', ip: [198, 51, 100, 2] }, // unicast, not a resolver
    { dst: 'ff:ff:ff:ff:ff:ff', src: '192.0.2.53', name: 'broadcast.example.test', ip: [198, 51, 100, 3] },
    { dst: '02:00:00:00:00:99', src: '192.0.2.53', name: 'otherhost.example.test', ip: [198, 51, 100, 4] },
  ].map((f) => ({ ...f, msg: msg(f.name, f.ip) }));
  // Python writes the frames (a raw packet socket); Node has none.
  const py = `
import json, socket, struct, sys
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind(('v1', 0))
for f in json.loads(sys.argv[1]):
    payload = bytes.fromhex(f['msg'])
    udp = struct.pack('!HHHH', 53, 40000, 8 + len(payload), 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, socket.inet_aton(f['src']), socket.inet_aton('192.0.2.10'))
    ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
    eth = bytes.fromhex(f['dst'].replace(':', '')) + bytes.fromhex('020000000001') + b'\\x08\\x00'
    sock.send(eth + ip + udp)
`;
  execFileSync('python3', ['-c', py, JSON.stringify(frames)]);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const t = Date.now();
  const forgedStats = names.poll(t, (ip) => ip === '192.0.2.53');
  forged = { stats: forgedStats, lookups: Object.fromEntries(['198.51.100.1', '198.51.100.2', '198.51.100.3', '198.51.100.4'].map((ip) => [ip, names.lookup(ip, t)])) };
}
console.log(JSON.stringify({ stats, lookups, second, forged }));
names.close();
server.close();
raw.close();
