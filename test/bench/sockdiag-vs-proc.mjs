// Measures one full socket-table read: the sock_diag addon (dump + decode) against reading and parsing
// /proc/net/{tcp,tcp6,udp,udp6} with collectors/procfs.ts. Not a test.
//
//   node --import tsx test/bench/sockdiag-vs-proc.mjs [SOCKETS]     (default 2000, at most 25000)
//
// SOCKETS loopback sockets are held open by child processes (half as many connections, both ends, split
// between 127.0.0.1 and ::1). Each child raises its own soft fd limit to the hard limit, and more children
// are used when one cannot hold them all. Connections are closed with RST so no TIME_WAIT is left behind.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const MAX_SOCKETS = 25_000;

if (process.argv[2] === '--hold') await hold(Number(process.argv[3]));
else await main();

/** Child: opens `sockets` loopback sockets, says how many, and closes them all when stdin ends. */
async function hold(sockets) {
  const conns = [];
  const servers = [];
  for (const host of ['127.0.0.1', '::1']) {
    const server = net.createServer((s) => conns.push(s)).listen({ host, port: 0, backlog: 4096 });
    await once(server, 'listening');
    servers.push(server);
  }
  const pairs = Math.floor(sockets / 2);
  for (let done = 0; done < pairs; ) {
    const batch = [];
    for (const end = Math.min(pairs, done + 256); done < end; done++) {
      const server = servers[done % 2];
      const c = net.connect({ host: server.address().address, port: server.address().port });
      conns.push(c);
      batch.push(once(c, 'connect'));
    }
    await Promise.all(batch);
  }
  while (conns.length < pairs * 2) await new Promise((r) => setTimeout(r, 10)); // the accepted ends
  console.log(`ready ${conns.length}`);
  process.stdin.resume();
  await once(process.stdin, 'end');
  for (const c of conns) c.resetAndDestroy();
  for (const s of servers) s.close();
  setTimeout(() => process.exit(0), 100);
}

function fileLimit() {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  const hard = line?.trim().split(/\s+/)[4];
  return hard === 'unlimited' || hard === undefined ? 1 << 20 : Number(hard);
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function measure(fn, runs) {
  for (let i = 0; i < 3; i++) fn(); // warm up the JIT
  const wall = [];
  const cpu = [];
  let count = 0;
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    count = fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu), count };
}

async function main() {
  if (process.platform !== 'linux') throw new Error('Linux only');
  const requested = Number(process.argv[2] ?? 2000);
  if (!Number.isInteger(requested) || requested < 0 || requested > MAX_SOCKETS) {
    console.error(`usage: node --import tsx test/bench/sockdiag-vs-proc.mjs [SOCKETS] (0..${MAX_SOCKETS})`);
    process.exit(2);
  }
  const { loadSockDiag, sockDiagLoadError, decodePacked } = await import('../../collectors/sockdiag.ts');
  const { parseSocketTable } = await import('../../collectors/procfs.ts');
  const sd = loadSockDiag();
  if (!sd) throw new Error(`no sock_diag addon (node scripts/build-addon.mjs): ${sockDiagLoadError()?.message ?? 'not built'}`);

  const perChild = Math.max(2, Math.min(fileLimit() - 100, 12_000) & ~1);
  const children = [];
  const script = fileURLToPath(import.meta.url);
  for (let left = requested; left > 0; left -= perChild) {
    // `ulimit -n <hard>` raises the child's soft limit; no privilege is needed up to the hard limit.
    const child = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" && exec "$0" "$@"', process.execPath, script, '--hold', String(Math.min(left, perChild))], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(child);
  }
  const cleanup = () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  };
  process.on('exit', cleanup);
  let held = 0;
  for (const child of children) {
    let out = '';
    for await (const chunk of child.stdout) {
      out += chunk;
      if (out.includes('\n')) break;
    }
    const m = /^ready (\d+)/.exec(out);
    if (!m) throw new Error(`holder ${child.pid} failed: ${out.trim() || `exit ${child.exitCode}`}`);
    held += Number(m[1]);
  }

  const tables = [['tcp', 'tcp', 'inet'], ['tcp6', 'tcp', 'inet6'], ['udp', 'udp', 'inet'], ['udp6', 'udp', 'inet6']];
  const readProc = () => {
    let n = 0;
    for (const [file, transport, family] of tables) n += parseSocketTable(readFileSync(`/proc/net/${file}`, 'utf8'), transport, family).sockets.length;
    return n;
  };
  const total = sd.dump().length;
  const runs = total > 10_000 ? 21 : 51;
  const packed = sd.dumpPacked();
  const results = [
    ['sock_diag dump + decode', measure(() => sd.dump().length, runs)],
    ['  of which dump only', measure(() => sd.dumpPacked().byteLength / 48, runs)],
    ['  of which decode only', measure(() => decodePacked(packed).length, runs)],
    ['/proc/net read + parse', measure(readProc, runs)],
  ];

  console.log(`${held} sockets held by ${children.length} child process(es); ${total} in the tables; median of ${runs} runs`);
  console.log('method                      sockets   wall ms    cpu ms');
  for (const [name, r] of results) console.log(`${name.padEnd(26)} ${String(r.count).padStart(8)} ${r.wall.toFixed(2).padStart(9)} ${r.cpu.toFixed(2).padStart(9)}`);

  for (const c of children) c.stdin.end();
  await Promise.all(children.map((c) => (c.exitCode === null ? once(c, 'exit') : null)));
}
