// Accepts TCP connections on HOST for each of PORTS and holds them until the client closes. Prints one ready
// line: {"pid":…,"ready":true}.
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { host: { type: 'string' }, ports: { type: 'string' } } });
if (!/^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d{1,3}$/.test(values.host ?? '')) throw new Error(`not a TEST-NET address: ${values.host}`);
const ports = (values.ports ?? '').split(',').map(Number);
await Promise.all(
  ports.map(
    (port) =>
      new Promise((resolve, reject) => {
        const server = net.createServer((socket) => {
          socket.on('error', () => {});
          socket.on('data', () => {});
          socket.on('end', () => socket.end());
        });
        server.once('error', reject);
        server.listen(port, values.host, () => resolve());
      }),
  ),
);
process.stdout.write(`${JSON.stringify({ pid: process.pid, ready: true })}\n`);
