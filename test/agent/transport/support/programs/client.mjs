// Connects, one after the other every EVERY ms, to each TARGET (ip:port) in turn, holding each connection for
// HOLD ms; with --keep IP:PORT also holds one connection open the whole time. Addresses must be TEST-NET.
// Prints one ready line: {"pid":…,"ready":true}.
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    targets: { type: 'string', default: '' },
    every: { type: 'string', default: '500' },
    hold: { type: 'string', default: '1500' },
    keep: { type: 'string' },
  },
});
const parse = (t) => {
  const [host, port] = t.split(':');
  if (!/^(192\.0\.2|198\.51\.100|203\.0\.113)\.\d{1,3}$/.test(host ?? '')) throw new Error(`not a TEST-NET address: ${t}`);
  return { host, port: Number(port) };
};
const targets = values.targets ? values.targets.split(',').map(parse) : [];
const hold = Number(values.hold);

function open(target, ms) {
  const socket = net.connect(target);
  socket.on('error', () => {});
  if (ms !== null) setTimeout(() => socket.destroy(), ms);
  return socket;
}

if (values.keep) {
  const keep = parse(values.keep);
  const reopen = () => open(keep, null).on('close', () => setTimeout(reopen, 200));
  reopen();
}
let i = 0;
if (targets.length > 0) {
  setInterval(() => {
    open(targets[i % targets.length], hold);
    i++;
  }, Number(values.every));
}
process.stdout.write(`${JSON.stringify({ pid: process.pid, ready: true })}\n`);
