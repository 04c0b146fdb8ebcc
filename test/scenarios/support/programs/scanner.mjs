// Malicious seed 3: internal reconnaissance from one process. A TCP connect() sweep of 192.0.2.100–150 on one
// service port (nothing answers there: the attempts stay half-open until they time out) and a port sweep of
// 192.0.2.20 (no listeners: every attempt is refused), interleaved, with bounded concurrency and timeouts.
// Usage: node scanner.mjs --seed N --log FILE
import net from 'node:net';
import { args, rng, seedFor, ready, logger, sleep, onStop, lifetime } from './lib.mjs';

const opt = args();
const r = rng(seedFor(opt.seed ?? 1, 'scanner'));
const log = logger(opt.log);
lifetime(opt['max-life-ms'] ?? 120_000);
onStop();

const sweepPort = r.pick([22, 445, 3389, 5985]);
const PORTS = [21, 22, 23, 25, 53, 80, 81, 88, 110, 111, 135, 139, 143, 389, 443, 445, 465, 587, 636, 993, 995, 1433,
  1521, 2049, 3306, 3389, 5432, 5900, 5985, 6379, 8000, 8080, 8443, 9200, 11211, 27017];
const targets = [];
for (let i = 100; i <= 150; i++) targets.push({ host: `192.0.2.${i}`, port: sweepPort });
for (const port of PORTS) targets.push({ host: '192.0.2.20', port });
for (let i = targets.length - 1; i > 0; i--) {
  const j = r.int(0, i);
  [targets[i], targets[j]] = [targets[j], targets[i]];
}
const concurrency = r.int(12, 20);
const timeoutMs = r.int(2000, 3000);

function probe({ host, port }) {
  return new Promise((resolve) => {
    const c = net.connect({ host, port });
    const timer = setTimeout(() => {
      c.destroy();
      resolve('filtered');
    }, timeoutMs);
    c.on('connect', () => {
      clearTimeout(timer);
      c.destroy();
      resolve('open');
    });
    c.on('error', (e) => {
      clearTimeout(timer);
      resolve(e.code === 'ECONNREFUSED' ? 'closed' : e.code);
    });
  });
}

ready({ sweepPort, concurrency, timeoutMs, targets: targets.length });
const results = {};
let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < targets.length) {
      const t = targets[next++];
      const res = await probe(t);
      results[res] = (results[res] ?? 0) + 1;
      await sleep(r.int(0, 30));
    }
  }),
);
log({ kind: 'scan-done', results });
// The implant keeps running (idle) after its scan, as a RAT's module would.
for (;;) await sleep(60_000);
