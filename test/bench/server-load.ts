// Load generator for test/bench/server.ts, run in its own process: simulated agents speaking the wire
// protocol to a server on loopback. Reports over the IPC channel; the parent kills it by pid when done.
//   stream:  N agents enroll, then stream batches as fast as acks allow (peak) or at a fixed rate (paced)
//   idle:    N agents enroll and stay connected, sending heartbeats
import { randomFillSync, randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { WebSocket } from 'ws';
import { newEventId } from '../../core/event-id.js';

interface Args {
  mode: 'stream' | 'idle';
  url: string;
  secret: string;
  agents: number;
  batch: number;
  /** Batches in flight per agent (stream). */
  window: number;
  /** Findings per second across all agents; 0 = as fast as acks allow. */
  rate: number;
  durationMs: number;
  heartbeatMs: number;
  connectConcurrency: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;

function report(msg: Record<string, unknown>): void {
  if (process.send) process.send(msg);
  else process.stdout.write(`${JSON.stringify(msg)}\n`);
}

type Slot = 'NOW' | 'EV' | 'HS' | 'IP' | 'PORT';
type Write = (buf: Buffer, at: number, eventId: string, huntSeq: number, ip: string, port: number, now: string) => number;

/**
 * A finding document with slots for what changes per item, written straight into a frame's buffer (its fixed parts
 * copied as bytes): building each document as a string, then the batch, then encoding it was most of this
 * process's work. Returns the offset after the document.
 */
function template(agentId: string, hostName: string): { write: Write; maxBytes: number } {
  const doc = {
    '@timestamp': '@@NOW@@',
    event: { id: '@@EV@@', kind: 'alert', category: ['network'], type: ['connection'] },
    rule: { id: 'first-seen', name: 'First-seen destination', author: 'sockhunt', reference: ['https://attack.mitre.org/techniques/T1071/'], ruleset: 'sockhunt' },
    threat: { framework: 'MITRE ATT&CK', technique: [{ id: 'T1071', name: 'Application Layer Protocol' }] },
    hunt: {
      id: 'TH-HUNTIN-20261128-@@HS@@',
      detector: 'first-seen',
      risk: 'Medium',
      confidence: 'Medium',
      score: 0.55,
      recommended_action: 'Confirm that this process is expected to talk to this destination; if not, isolate the host and collect the binary.',
      evidence: [{ summary: 'first connection of /usr/bin/python3 /opt/app/worker.py to @@IP@@:@@PORT@@/tcp (not in the 7-day baseline)', baseline_processes: 42, attribution: 'socket' }],
      first_seen: '@@NOW@@',
      last_seen: '@@NOW@@',
      count: 1,
    },
    host: { name: hostName, id: agentId },
    user: { name: 'svc-app', id: '998' },
    process: { pid: 4242, name: 'python3', executable: '/usr/bin/python3.11', command_line: '/usr/bin/python3 /opt/app/worker.py --queue default', parent: { pid: 1, name: 'systemd' } },
    destination: { ip: '@@IP@@', port: 4444 },
    network: { transport: 'tcp', direction: 'egress' },
  };
  const text = JSON.stringify(doc).replace('"port":4444}', '"port":@@PORT@@}');
  const pieces = text.split(/@@(NOW|EV|HS|IP|PORT)@@/);
  const fixed = pieces.filter((_, i) => i % 2 === 0).map((p) => Buffer.from(p));
  const slots = pieces.filter((_, i) => i % 2 === 1) as Slot[];
  // (every slot at most 40 bytes: an ISO time, a UUID, a number, an address)
  const maxBytes = fixed.reduce((n, b) => n + b.length, 0) + slots.length * 40;
  const write: Write = (buf, at, eventId, huntSeq, ip, port, now) => {
    for (let i = 0; i < slots.length; i++) {
      buf.set(fixed[i]!, at);
      at += fixed[i]!.length;
      const slot = slots[i];
      const value = slot === 'NOW' ? now : slot === 'EV' ? eventId : slot === 'HS' ? String(huntSeq).padStart(4, '0') : slot === 'IP' ? ip : String(port);
      at += buf.write(value, at, 'latin1');
    }
    buf.set(fixed[slots.length]!, at);
    return at + fixed[slots.length]!.length;
  };
  return { write, maxBytes };
}

interface Agent {
  index: number;
  id: string;
  ws: WebSocket;
  seq: number;
  inFlight: Map<number, number>;
  make: ReturnType<typeof template>;
}

const latencies: number[] = [];
let acked = 0;
let errors = 0;
let closes = 0;
let measuring = false;

function connect(index: number): Promise<Agent> {
  return new Promise((resolve, reject) => {
    const id = randomUUID();
    const ws = new WebSocket(args.url, { perMessageDeflate: false });
    const agent: Agent = { index, id, ws, seq: 0, inFlight: new Map(), make: template(id, `bench-${index}`) };
    const timer = setTimeout(() => reject(new Error(`agent ${index}: no welcome within 30 s`)), 30_000);
    ws.once('open', () => {
      ws.send(
        JSON.stringify({
          type: 'hello',
          protocol: [1],
          agent: { id, version: 'bench' },
          host: { hostname: `bench-${index}`, os: 'Linux', kernel: '6.8', platform: 'linux', arch: 'x64', ips: [`10.0.${index >> 8}.${index & 255}`] },
          auth: { enroll_secret: args.secret },
        }),
      );
    });
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as { type: string; seqs?: number[]; code?: string; message?: string };
      if (msg.type === 'welcome') {
        clearTimeout(timer);
        resolve(agent);
      } else if (msg.type === 'ack') {
        const now = performance.now();
        // An ack names every seq of a batch: the first one carries the batch's send time.
        for (const s of msg.seqs ?? []) {
          const sent = agent.inFlight.get(s);
          if (sent !== undefined) {
            agent.inFlight.delete(s);
            if (measuring) latencies.push(now - sent);
          }
        }
        if (measuring) acked += msg.seqs?.length ?? 0;
        onAck(agent);
      } else if (msg.type === 'error') {
        errors++;
        if (errors <= 5) report({ type: 'log', text: `agent ${index} error ${msg.code}: ${msg.message}` });
      }
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ws.on('close', () => {
      closes++;
    });
  });
}

let stopping = false;

const BATCH_OPEN = Buffer.from('{"type":"findings","items":[');
const BATCH_CLOSE = Buffer.from(']}');
/** Room before the payload for the longest frame header (2 + 8 bytes of length, 4 of mask). */
const HEAD_ROOM = 14;

function sendBatch(agent: Agent): void {
  const now = new Date().toISOString();
  const first = agent.seq + 1;
  // Over 4 KiB, allocUnsafe is not carved from the shared pool: the frame is a buffer of its own.
  const buf = Buffer.allocUnsafe(Math.max(4097, HEAD_ROOM + BATCH_OPEN.length + args.batch * (agent.make.maxBytes + 40) + BATCH_CLOSE.length));
  let at = HEAD_ROOM;
  buf.set(BATCH_OPEN, at);
  at += BATCH_OPEN.length;
  for (let i = 0; i < args.batch; i++) {
    const seq = ++agent.seq;
    // 30% of findings go to 500 destinations the whole fleet shares, the rest to ones only this host uses.
    const common = seq % 10 < 3;
    const ip = common ? `203.0.${(seq >> 3) % 2}.${(seq * 7) % 250}` : `100.${64 + (agent.index % 64)}.${(seq >> 8) % 250}.${seq % 250}`;
    at += buf.write(`${i > 0 ? ',' : ''}{"seq":${seq},"finding":`, at, 'latin1');
    at = agent.make.write(buf, at, newEventId(), seq, ip, common ? 443 : 4444, now);
    buf[at++] = 0x7d; // }
  }
  buf.set(BATCH_CLOSE, at);
  at += BATCH_CLOSE.length;
  agent.inFlight.set(first, performance.now());
  sendFrame(agent.ws, buf, HEAD_ROOM, at - HEAD_ROOM);
}

let onAck: (agent: Agent) => void = () => undefined;

const RANDOM_MASK = process.env.BENCH_RANDOM_MASK === '1';
const masks = Buffer.alloc(4096);
let maskAt = masks.length;

/**
 * Sends `buf[start, start + len)` (UTF-8 JSON, written after HEAD_ROOM spare bytes) as a text frame as the agent's
 * ws client does — FIN, opcode text, masked with an all-zero key (agent/transport/target.ts `generateMask`), so neither
 * side has bytes to mask. BENCH_RANDOM_MASK=1: a fresh random key per frame instead, as a browser would send, masked
 * here four bytes at a time (ws's JavaScript fallback masks byte by byte, which took about 40% of this process's
 * CPU from the two cores the server shares with it). Writes to the socket ws holds (it writes its pongs there too,
 * each frame whole). Findings batches only.
 */
function sendFrame(ws: WebSocket, buf: Buffer, start: number, len: number): void {
  const head = len < 126 ? 6 : len < 65536 ? 8 : 14;
  const h = start - head;
  buf[h] = 0x81;
  if (len < 126) buf[h + 1] = 0x80 | len;
  else if (len < 65536) {
    buf[h + 1] = 0x80 | 126;
    buf.writeUInt16BE(len, h + 2);
  } else {
    buf[h + 1] = 0x80 | 127;
    buf.writeUInt32BE(Math.floor(len / 2 ** 32), h + 2);
    buf.writeUInt32BE(len >>> 0, h + 6);
  }
  if (!RANDOM_MASK) {
    buf.fill(0, start - 4, start);
    (ws as unknown as { _socket: Socket })._socket.write(buf.subarray(h, start + len));
    return;
  }
  if (maskAt === masks.length) {
    randomFillSync(masks);
    maskAt = 0;
  }
  const mask = masks.subarray(maskAt, maskAt + 4);
  maskAt += 4;
  mask.copy(buf, start - 4);
  // Bytes up to a 4-byte boundary of the buffer, then whole words (the key rotated to that phase), then the rest.
  const end = start + len;
  let i = start;
  const aligned = Math.min(end, (buf.byteOffset + start + 3) & ~3) - buf.byteOffset;
  for (; i < aligned; i++) buf[i]! ^= mask[(i - start) & 3]!;
  const words = Math.floor((end - i) / 4);
  if (words > 0) {
    const p = (i - start) & 3;
    const key = mask[p]! | (mask[(p + 1) & 3]! << 8) | (mask[(p + 2) & 3]! << 16) | (mask[(p + 3) & 3]! << 24);
    const view = new Int32Array(buf.buffer, buf.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w]! ^= key;
    i += words * 4;
  }
  for (; i < end; i++) buf[i]! ^= mask[(i - start) & 3]!;
  (ws as unknown as { _socket: Socket })._socket.write(buf.subarray(h, end));
}

async function connectAll(): Promise<Agent[]> {
  const agents: Agent[] = new Array(args.agents);
  let next = 0;
  const workers = Array.from({ length: Math.min(args.connectConcurrency, args.agents) }, async () => {
    while (next < args.agents) {
      const i = next++;
      agents[i] = await connect(i);
    }
  });
  await Promise.all(workers);
  return agents;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function stream(): Promise<void> {
  const t0 = performance.now();
  const agents = await connectAll();
  report({ type: 'connected', agents: agents.length, ms: Math.round(performance.now() - t0) });
  const timers: NodeJS.Timeout[] = [];
  if (args.rate === 0) {
    onAck = (agent) => {
      if (!stopping && agent.inFlight.size < args.window) sendBatch(agent);
    };
    for (const a of agents) for (let w = 0; w < args.window; w++) sendBatch(a);
  } else {
    // Each agent sends one batch every `period`, the agents spread evenly over the period.
    const period = (args.agents * args.batch * 1000) / args.rate;
    agents.forEach((a, i) => {
      const start = setTimeout(() => {
        sendBatch(a);
        timers.push(setInterval(() => !stopping && sendBatch(a), period));
      }, (i * period) / args.agents);
      timers.push(start);
    });
  }
  // Warm-up, then measure.
  await new Promise((r) => setTimeout(r, 2000));
  measuring = true;
  const m0 = performance.now();
  const cpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, args.durationMs));
  measuring = false;
  const cpu = process.cpuUsage(cpu0);
  const elapsed = (performance.now() - m0) / 1000;
  stopping = true;
  for (const t of timers) clearTimeout(t);
  latencies.sort((a, b) => a - b);
  report({
    type: 'result',
    findingsPerSec: Math.round(acked / elapsed),
    acked,
    seconds: elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? NaN,
    batches: latencies.length,
    errors,
    closes,
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  });
  for (const a of agents) a.ws.terminate();
}

async function idle(): Promise<void> {
  const t0 = performance.now();
  const agents = await connectAll();
  report({ type: 'connected', agents: agents.length, ms: Math.round(performance.now() - t0) });
  const beat = (a: Agent) => {
    if (a.ws.readyState === WebSocket.OPEN) a.ws.send(JSON.stringify({ type: 'heartbeat', ts: Date.now(), outbox: { pending: 0, dropped: 0 } }));
  };
  const timers = agents.map((a, i) =>
    setTimeout(() => {
      beat(a);
      timers.push(setInterval(() => beat(a), args.heartbeatMs));
    }, (i * args.heartbeatMs) / agents.length),
  );
  await new Promise((r) => setTimeout(r, args.durationMs));
  for (const t of timers) clearTimeout(t);
  const open = agents.filter((a) => a.ws.readyState === WebSocket.OPEN).length;
  report({ type: 'result', open, errors, closes });
  for (const a of agents) a.ws.terminate();
}

(args.mode === 'idle' ? idle() : stream())
  .then(() => setTimeout(() => process.exit(0), 200))
  .catch((err: unknown) => {
    report({ type: 'failed', error: String((err as Error)?.stack ?? err) });
    process.exit(1);
  });
