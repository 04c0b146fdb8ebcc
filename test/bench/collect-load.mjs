// Load for test/bench/collect.ts (not a test): holds SOCKETS loopback sockets — SOCKETS/2 TCP connections to its
// own listeners, both ends open, alternating 127.0.0.1 and ::1 — until stdin ends or MAX_LIFETIME_MS passes.
//
//   node test/bench/collect-load.mjs SOCKETS
//
// Prints `ready <sockets held>` once every connection is up. Commands on stdin, one per line:
//   churn <n>   every second open n new connections and close the n oldest (graceful FIN from the client side,
//               so closed connections leave TIME_WAIT rows as real clients do); `churn 0` stops.
// On stdin end (the parent exited or asked) every socket is reset (RST: no TIME_WAIT left behind) and it exits.
import net from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const MAX_SOCKETS = 20_000;
const MAX_LIFETIME_MS = 10 * 60_000; // a bound even if the parent never closes stdin
const CONNECT_BATCH = 256;

const sockets = Number(process.argv[2]);
if (!Number.isInteger(sockets) || sockets < 2 || sockets > MAX_SOCKETS) {
  console.error(`usage: node collect-load.mjs SOCKETS (2..${MAX_SOCKETS})`);
  process.exit(2);
}
const softLimit = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? 1024);
if (softLimit < sockets + 64) {
  console.error(`collect-load: needs ${sockets + 64} fds, the soft limit is ${softLimit}`);
  process.exit(1);
}

/** Every socket this process holds (both ends), for the final reset. */
const open = new Set();
/** Client ends in connection order, for churn. */
const clients = [];
const track = (s) => {
  open.add(s);
  s.on('error', () => {}); // resets from the peer during teardown are expected
  s.on('close', () => open.delete(s));
};

const servers = [];
for (const host of ['127.0.0.1', '::1']) {
  const server = net.createServer(track).listen({ host, port: 0, backlog: 4096 });
  await once(server, 'listening');
  servers.push(server);
}
let next = 0;
function connect() {
  const server = servers[next++ % servers.length];
  const { address, port } = server.address();
  const c = net.connect({ host: address, port });
  track(c);
  clients.push(c);
  return once(c, 'connect');
}

const pairs = Math.floor(sockets / 2);
for (let done = 0; done < pairs; ) {
  const batch = [];
  for (const end = Math.min(pairs, done + CONNECT_BATCH); done < end; done++) batch.push(connect());
  await Promise.all(batch);
}
const readyBy = Date.now() + 30_000;
while (open.size < pairs * 2 && Date.now() < readyBy) await new Promise((r) => setTimeout(r, 10)); // accepted ends
console.log(`ready ${open.size}`);

let churnTimer = null;
function setChurn(perSecond) {
  clearInterval(churnTimer);
  churnTimer = null;
  if (!(perSecond > 0)) return;
  churnTimer = setInterval(() => {
    for (let i = 0; i < perSecond; i++) {
      connect().catch(() => {});
      clients.shift()?.end();
    }
  }, 1000);
}

function shutdown() {
  clearInterval(churnTimer);
  for (const s of open) s.resetAndDestroy();
  for (const s of servers) s.close();
  setTimeout(() => process.exit(0), 50).unref();
}

const lifetime = setTimeout(shutdown, MAX_LIFETIME_MS);
lifetime.unref();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const m = /^churn (\d+)$/.exec(line.trim());
  if (m) setChurn(Math.min(Number(m[1]), 100));
});
lines.on('close', shutdown);
