// Malicious seed 1: a backdoor that checks in with its C2 server at a jittered interval. Each check-in is one short
// TCP connection (100–300 ms). --close client: the implant closes (its TIME_WAIT stays on the endpoint);
// --close server: the C2 closes and the implant follows (no TIME_WAIT on the endpoint: only conntrack remembers).
// Usage: node backdoor.mjs --seed N --c2 198.51.100.66:8443 --close client|server --log FILE
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { args, rng, seedFor, ready, logger, sleep, onStop, lifetime } from './lib.mjs';

const opt = args();
const r = rng(seedFor(opt.seed ?? 1, 'backdoor'));
const log = logger(opt.log);
const [host, portText] = (opt.c2 ?? '198.51.100.66:8443').split(':');
const port = Number(portText);
const closer = opt.close === 'server' ? 'server' : 'client';
// 2–3 s keeps 13–20 check-ins inside the 40 s hunt, enough for the beacon detector's confirmed stage (about 10
// starts at ±20% jitter, 15–20 at ±30%); its early stage already reports most ±20% series by the 6th check-in,
// with Low confidence, which a random seed would make this suite fail now and then (docs/detectors.md, "Beacon rates").
const base = Math.round(r.between(2000, 3000));
const jitter = r.between(0.2, 0.3);
lifetime(opt['max-life-ms'] ?? 120_000);
onStop();
const id = randomBytes(4).toString('hex');

function checkIn(n) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const hold = r.int(100, 300);
    const c = net.connect({ host, port });
    let holdTimer = null;
    c.setTimeout(3000, () => c.destroy());
    c.on('connect', () => {
      c.write(`POST /submit.php?id=${id}&n=${n} HTTP/1.1\r\nHost: cdn-update.example\r\nContent-Length: 0\r\n\r\n`);
      if (closer === 'client') holdTimer = setTimeout(() => c.end(), hold);
    });
    c.on('data', () => {});
    c.on('error', () => {});
    c.on('close', () => {
      clearTimeout(holdTimer);
      log({ kind: 'check-in', n, start: t0, ms: Date.now() - t0, closer, port: c.localPort });
      resolve();
    });
  });
}

ready({ base, jitter, closer });
for (let n = 1; ; n++) {
  await checkIn(n);
  await sleep(Math.round(base * (1 + r.between(-jitter, jitter))));
}
