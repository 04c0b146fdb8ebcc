// The test network's servers, run inside the network namespace (which owns every address below). Each answers with
// a random 20–60 ms delay, so that client sockets live about as long as across the internet.
//   203.0.113.10:443   HTTPS-like: reads a request, waits, writes a response; closes when asked (Connection: close)
//                      or lets the client close
//   192.0.2.53:53/udp  the LAN resolver (names under a mining pool's domain → the pool, anything else → the API);
//   203.0.113.53:53/udp  the attacker's name server (hand-built answers)
//   198.51.100.22:22   SSH-like: banner, then echo
//   198.51.100.66:C2   C2: answers a check-in with a task; --c2-close server|client says who ends the connection
//   203.0.113.77:3333  stratum-like pool: newline-delimited JSON, mining.notify every few seconds; the same on :443
//                      (stratum on a web port, as pools offer to get through egress filters)
// Usage: node services.mjs --seed N --c2-port P --c2-close server|client --log FILE
import net from 'node:net';
import dgram from 'node:dgram';
import { args, rng, seedFor, ready, logger, parseQuery, dnsAnswer, onStop, lifetime } from './lib.mjs';

const opt = args();
const r = rng(seedFor(opt.seed ?? 1, 'services'));
const log = logger(opt.log);
const delay = () => r.int(20, 60);
const c2Port = Number(opt['c2-port'] ?? 8443);
const c2Close = opt['c2-close'] ?? 'client';
lifetime(opt['max-life-ms'] ?? 240_000);

const servers = [];
const sockets = new Set();
function track(sock) {
  sockets.add(sock);
  sock.on('close', () => sockets.delete(sock));
  sock.on('error', () => {});
}

function tcp(host, port, onConnection) {
  return new Promise((resolve, reject) => {
    const s = net.createServer((c) => {
      track(c);
      onConnection(c);
    });
    s.once('error', reject);
    s.listen({ host, port, backlog: 256 }, () => resolve(s));
    servers.push(s);
  });
}

/** Names the LAN resolver answers with the pool's address (a pool domain from the shipped miner lists). */
const POOL_DOMAIN = 'supportxmr.com';
const POOL = '203.0.113.77';

function udpDns(host, answerWith) {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.on('message', (msg, from) => {
      const q = parseQuery(msg);
      if (!q) return;
      log({ service: `dns ${host}`, from: `${from.address}:${from.port}`, name: q.name.slice(0, 80), len: msg.length });
      const address = typeof answerWith === 'function' ? answerWith(q.name) : answerWith;
      setTimeout(() => s.send(dnsAnswer(q, address), from.port, from.address), delay());
    });
    s.once('error', reject);
    s.bind(53, host, () => resolve(s));
    servers.push(s);
  });
}

// HTTPS-like (the benign poller's API).
await tcp('203.0.113.10', 443, (c) => {
  let buf = '';
  c.on('data', (d) => {
    buf += d.toString('latin1');
    if (!buf.includes('\r\n\r\n')) return;
    const close = /connection:\s*close/i.test(buf);
    buf = '';
    setTimeout(() => {
      if (c.destroyed) return;
      c.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{"status":"ok"}\n');
      if (close) c.end();
    }, delay());
  });
  c.on('end', () => c.end());
  c.setTimeout(10_000, () => c.destroy());
});

// Resolvers.
await udpDns('192.0.2.53', (name) => (name.toLowerCase() === POOL_DOMAIN || name.toLowerCase().endsWith(`.${POOL_DOMAIN}`) ? POOL : '203.0.113.10'));
await udpDns('203.0.113.53', '203.0.113.99');

// SSH-like.
await tcp('198.51.100.22', 22, (c) => {
  setTimeout(() => c.writable && c.write('SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n'), delay());
  c.on('data', (d) => setTimeout(() => c.writable && c.write(d), delay()));
  c.on('end', () => c.end());
});

// C2.
await tcp('198.51.100.66', c2Port, (c) => {
  const accepted = Date.now();
  const hold = r.int(100, 300);
  log({ service: 'c2', peer: `${c.remoteAddress}:${c.remotePort}`, close: c2Close });
  c.once('data', () => {
    setTimeout(() => c.writable && c.write(`${JSON.stringify({ task: r.pick(['sleep', 'sleep', 'sysinfo', 'ls']), jitter: 0.25 })}\n`), delay());
  });
  if (c2Close === 'server') setTimeout(() => c.end(), Math.max(0, hold - (Date.now() - accepted)));
  c.on('end', () => c.end());
  c.setTimeout(5_000, () => c.destroy());
});

// Stratum-like pool.
function stratum(c) {
  let buf = '';
  let notify = null;
  let job = 0;
  const send = (o) => c.writable && c.write(`${JSON.stringify(o)}\n`);
  const push = () => {
    job++;
    send({ id: null, method: 'mining.notify', params: [job.toString(16), 'ab'.repeat(32), '01000000', '02000000', [], '20000000', '1d00ffff', Math.floor(Date.now() / 1000).toString(16), true] });
    notify = setTimeout(push, r.int(2000, 5000));
  };
  c.on('data', (d) => {
    buf += d.toString('utf8');
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let m;
      try {
        m = JSON.parse(line);
      } catch {
        continue;
      }
      setTimeout(() => {
        if (m.method === 'mining.subscribe') send({ id: m.id, result: [[['mining.set_difficulty', 'd1'], ['mining.notify', 'n1']], '08000002', 4], error: null });
        else if (m.method === 'mining.authorize') {
          send({ id: m.id, result: true, error: null });
          send({ id: null, method: 'mining.set_difficulty', params: [1024] });
          if (!notify) push();
        } else if (m.method === 'mining.submit') send({ id: m.id, result: true, error: null });
      }, delay());
    }
  });
  c.on('close', () => clearTimeout(notify));
  c.on('end', () => c.end());
}
await tcp(POOL, 3333, stratum);
await tcp(POOL, 443, stratum);

onStop(() => {
  for (const s of servers) s.close();
  for (const c of sockets) c.destroy();
});
ready({ services: ['203.0.113.10:443', '192.0.2.53:53/udp', '203.0.113.53:53/udp', '198.51.100.22:22', `198.51.100.66:${c2Port}`, '203.0.113.77:3333', '203.0.113.77:443'] });
