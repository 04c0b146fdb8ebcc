// Benign: name lookups through the configured LAN resolver every ~5 s, each from a fresh connected UDP socket, as
// glibc's stub resolver does.
// Usage: node resolver-client.mjs --seed N --log FILE
import dgram from 'node:dgram';
import { args, rng, seedFor, ready, logger, sleep, dnsQuery, parseAnswer, onStop, lifetime } from './lib.mjs';

const opt = args();
const r = rng(seedFor(opt.seed ?? 1, 'resolver-client'));
const log = logger(opt.log);
lifetime(opt['max-life-ms'] ?? 240_000);
onStop();
const NAMES = ['api.example.net', 'www.example.com', 'mirror.example.org', 'ntp.example.net', 'mail.example.com'];

function lookup(name) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const id = r.int(1, 65535);
    const t0 = Date.now();
    const finish = (how) => {
      clearTimeout(timer);
      log({ kind: 'lookup', name, how, ms: Date.now() - t0 });
      try {
        s.close();
      } catch {}
      resolve();
    };
    const timer = setTimeout(() => finish('timeout'), 2000);
    s.on('error', () => finish('error'));
    s.on('message', (m) => {
      const a = parseAnswer(m);
      if (a && a.id === id) finish(`answer ${a.address}`);
    });
    s.connect(53, '192.0.2.53', () => s.send(dnsQuery(id, name)));
  });
}

ready();
for (;;) {
  await lookup(r.pick(NAMES));
  await sleep(r.int(4000, 6000));
}
