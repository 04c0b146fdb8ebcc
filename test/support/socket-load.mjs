// Opens a known set of loopback sockets and keeps them open until stdin closes or it is killed.
// argv[2]: JSON {"connections": N} — N extra TCP connections to its own listener (default 0, max 25000).
// Prints one JSON line when ready: {"pid", "ports": {...}}: the listeners' and UDP sockets' ports, and the local ports of
// the first client of each TCP listener (tcp4Client, tcp6Client, dualClient).
import net from 'node:net';
import dgram from 'node:dgram';

const opts = JSON.parse(process.argv[2] ?? '{}');
const extra = Math.min(Number(opts.connections ?? 0), 25000);
const keep = [];

function listen(host, ipv6Only) {
  return new Promise((resolve, reject) => {
    const server = net.createServer((sock) => keep.push(sock));
    server.on('error', reject);
    server.listen({ host, port: 0, ipv6Only }, () => resolve(server));
  });
}
function connect(host, port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port }, () => resolve(sock));
    sock.on('error', reject);
  });
}
function udp(type, bindHost, connectTo) {
  return new Promise((resolve) => {
    const s = dgram.createSocket(type);
    s.bind(0, bindHost, () => {
      if (!connectTo) return resolve(s);
      s.connect(connectTo.port, connectTo.host, () => resolve(s));
    });
  });
}

const v4 = await listen('127.0.0.1');
const v6 = await listen('::1', true);
const dual = await listen('::', false);
const c4 = await connect('127.0.0.1', v4.address().port);
const c6 = await connect('::1', v6.address().port);
const cDual = await connect('127.0.0.1', dual.address().port); // IPv4-mapped on the dual-stack listener
keep.push(c4, c6, cDual);
const u4 = await udp('udp4', '127.0.0.1');
const u6 = await udp('udp6', '::1');
const u4c = await udp('udp4', '127.0.0.1', { host: '127.0.0.1', port: u4.address().port });
const u6c = await udp('udp6', '::1', { host: '::1', port: u6.address().port });
keep.push(u4, u6, u4c, u6c);
for (let i = 0; i < extra; i++) keep.push(await connect('127.0.0.1', v4.address().port));

process.stdout.write(
  `${JSON.stringify({
    pid: process.pid,
    ports: {
      tcp4: v4.address().port,
      tcp6: v6.address().port,
      dual: dual.address().port,
      udp4: u4.address().port,
      udp6: u6.address().port,
      udp4Client: u4c.address().port,
      udp6Client: u6c.address().port,
      tcp4Client: c4.localPort,
      tcp6Client: c6.localPort,
      dualClient: cDual.localPort,
    },
  })}\n`,
);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
