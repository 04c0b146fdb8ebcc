// Load generator for test/bench/server.ts, run in its own process: simulated agents speaking the wire
// protocol to a server on loopback. Reports over the IPC channel; the parent kills it by pid when done.
//   stream:  N agents enroll, then stream batches as fast as acks allow (peak) or at a fixed rate (paced)
//   idle:    N agents enroll and stay connected, sending heartbeats
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';

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

/** A finding document as text, with slots for what changes per item. */
function template(agentId: string, hostName: string): (eventId: string, huntSeq: number, ip: string, port: number, now: string) => string {
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
  const parts = text.split(/@@(NOW|EV|HS|IP|PORT)@@/);
  return (eventId, huntSeq, ip, port, now) => {
    let out = '';
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i % 2 === 0) out += p;
      else out += p === 'NOW' ? now : p === 'EV' ? eventId : p === 'HS' ? String(huntSeq).padStart(4, '0') : p === 'IP' ? ip : String(port);
    }
    return out;
  };
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

function sendBatch(agent: Agent): void {
  const now = new Date().toISOString();
  const parts: string[] = [];
  const first = agent.seq + 1;
  for (let i = 0; i < args.batch; i++) {
    const seq = ++agent.seq;
    // 30% of findings go to 500 destinations the whole fleet shares, the rest to ones only this host uses.
    const common = seq % 10 < 3;
    const ip = common ? `203.0.${(seq >> 3) % 2}.${(seq * 7) % 250}` : `100.${64 + (agent.index % 64)}.${(seq >> 8) % 250}.${seq % 250}`;
    parts.push(`{"seq":${seq},"finding":${agent.make(randomUUID(), seq, ip, common ? 443 : 4444, now)}}`);
  }
  agent.inFlight.set(first, performance.now());
  agent.ws.send(`{"type":"findings","items":[${parts.join(',')}]}`);
}

let onAck: (agent: Agent) => void = () => undefined;

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
