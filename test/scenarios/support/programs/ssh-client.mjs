// Benign: an interactive SSH-like session that stays open: banner exchange, then a few bytes every 1–5 s.
// Usage: node ssh-client.mjs --seed N --log FILE
import net from 'node:net';
import { args, rng, seedFor, ready, logger, sleep, onStop, lifetime } from './lib.mjs';

const opt = args();
const r = rng(seedFor(opt.seed ?? 1, 'ssh-client'));
const log = logger(opt.log);
lifetime(opt['max-life-ms'] ?? 240_000);

let sock = null;
onStop(() => sock?.destroy());

function session() {
  return new Promise((resolve) => {
    const c = net.connect({ host: '198.51.100.22', port: 22 });
    sock = c;
    let timer = null;
    const type = () => {
      if (c.writable) c.write(r.pick(['ls\n', 'uptime\n', 'df -h\n', 'tail -f /var/log/syslog\n', '\n']));
      timer = setTimeout(type, r.int(1000, 5000));
    };
    c.once('data', () => {
      c.write('SSH-2.0-OpenSSH_9.2p1\r\n');
      type();
    });
    c.on('error', () => {});
    c.on('close', () => {
      clearTimeout(timer);
      log({ kind: 'session-closed' });
      resolve();
    });
    log({ kind: 'session-open' });
  });
}

ready();
for (;;) {
  await session();
  await sleep(1000);
}
