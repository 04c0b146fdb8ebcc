// Benign: a health poller that calls an HTTPS API every 2–4 s (a new connection each time, like curl in a loop).
// Half of the calls ask the server to close (HTTP/1.0 style), the others close themselves after the response.
// Usage: node poller.mjs --seed N --log FILE
import net from 'node:net';
import { args, rng, seedFor, ready, logger, sleep, onStop, lifetime } from './lib.mjs';

const opt = args();
const r = rng(seedFor(opt.seed ?? 1, 'poller'));
const log = logger(opt.log);
lifetime(opt['max-life-ms'] ?? 240_000);
onStop();

function poll() {
  return new Promise((resolve) => {
    const serverCloses = r.next() < 0.5;
    const c = net.connect({ host: '203.0.113.10', port: 443 });
    const t0 = Date.now();
    let got = '';
    const done = (how) => {
      log({ kind: 'poll', how, ms: Date.now() - t0, port: c.localPort });
      resolve();
    };
    c.setTimeout(5000, () => c.destroy());
    c.on('connect', () => c.write(`GET /api/v1/health HTTP/1.1\r\nHost: api.example.net\r\nUser-Agent: health-poller/2.1\r\n${serverCloses ? 'Connection: close\r\n' : ''}\r\n`));
    c.on('data', (d) => {
      got += d.toString('latin1');
      if (!serverCloses && got.includes('\n{')) c.end();
    });
    c.on('error', () => {});
    c.on('close', () => done(serverCloses ? 'server-close' : 'client-close'));
  });
}

ready();
for (;;) {
  await poll();
  await sleep(r.int(2000, 4000));
}
