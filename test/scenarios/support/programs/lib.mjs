// Shared by the scenario programs (plain ESM run by node inside the test network's namespaces): seeded randomness,
// a hand-built DNS codec, the ready line and an event log. Nothing here reaches an address the caller did not pass.
import { appendFileSync } from 'node:fs';

/** `--name value` pairs of argv into an object of strings. */
export function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) out[a.slice(2)] = 'true';
      else {
        out[a.slice(2)] = next;
        i++;
      }
    }
  }
  return out;
}

/** mulberry32: a small seeded generator, so a run can be replayed from the seed printed in the test name. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    between: (lo, hi) => lo + (hi - lo) * next(),
    int: (lo, hi) => Math.floor(lo + (hi - lo + 1) * next()),
    pick: (list) => list[Math.floor(next() * list.length)],
  };
}

/** A seed per program derived from the scenario seed and the program's name. */
export function seedFor(scenarioSeed, name) {
  let h = Number(scenarioSeed) >>> 0;
  for (const c of name) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One JSON line on stdout that the test waits for; then stdout is not used again. */
export function ready(extra = {}) {
  process.stdout.write(`${JSON.stringify({ pid: process.pid, ...extra })}\n`);
}

/** Appends one JSON event line to the program's log (for the test's diagnostics when an assertion fails). */
export function logger(path) {
  return (event) => {
    if (!path) return;
    try {
      appendFileSync(path, `${JSON.stringify({ t: Date.now(), pid: process.pid, ...event })}\n`);
    } catch {
      // diagnostics only
    }
  };
}

// ---- DNS, by hand (RFC 1035 §4.1) ----

/** A standard query for `name` with the given type (1 = A), recursion desired. */
export function dnsQuery(id, name, qtype = 1) {
  const labels = name.replace(/\.$/, '').split('.');
  const parts = [Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])];
  for (const l of labels) {
    const b = Buffer.from(l, 'ascii');
    if (b.length === 0 || b.length > 63) throw new Error(`bad label ${l}`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0, qtype >> 8, qtype & 0xff, 0, 1]));
  return Buffer.concat(parts);
}

/** Parses the header and first question; null when the message is not a well-formed query. */
export function parseQuery(msg) {
  if (msg.length < 12) return null;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return null; // a response
  if (msg.readUInt16BE(4) < 1) return null;
  let off = 12;
  const labels = [];
  for (;;) {
    if (off >= msg.length) return null;
    const len = msg[off];
    if (len === 0) {
      off++;
      break;
    }
    if (len > 63 || off + 1 + len > msg.length) return null;
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('ascii'));
    off += 1 + len;
  }
  if (off + 4 > msg.length) return null;
  return { id, flags, name: labels.join('.'), qtype: msg.readUInt16BE(off), question: msg.subarray(12, off + 4) };
}

/** A response echoing the question with one A record (name by compression pointer to offset 12). */
export function dnsAnswer(query, address) {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.id, 0);
  header.writeUInt16BE(0x8180 | (query.flags & 0x0100), 2); // QR, RD copied, RA, NOERROR
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(1, 6);
  const rr = Buffer.alloc(16);
  rr.writeUInt16BE(0xc00c, 0);
  rr.writeUInt16BE(1, 2); // A
  rr.writeUInt16BE(1, 4); // IN
  rr.writeUInt32BE(60, 6); // TTL
  rr.writeUInt16BE(4, 10);
  address.split('.').forEach((o, i) => (rr[12 + i] = Number(o)));
  return Buffer.concat([header, query.question, rr]);
}

/** Parses a response: its id, answer count and the first A record's address. */
export function parseAnswer(msg) {
  if (msg.length < 12 || !(msg.readUInt16BE(2) & 0x8000)) return null;
  const id = msg.readUInt16BE(0);
  const an = msg.readUInt16BE(6);
  const a = msg.length >= 4 ? [...msg.subarray(msg.length - 4)].join('.') : null;
  return { id, answers: an, address: an > 0 ? a : null };
}

/** base32 (RFC 4648 alphabet, lower case, no padding): what DNS tunnels use for their labels. */
export function base32(bytes) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/** Splits text into DNS labels of at most `max` characters. */
export function labels(text, max = 60) {
  const out = [];
  for (let i = 0; i < text.length; i += max) out.push(text.slice(i, i + max));
  return out;
}

/** Stops the program cleanly on SIGTERM/SIGINT (the test kills by pid). */
export function onStop(fn) {
  const stop = () => {
    try {
      fn?.();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

/** A hard upper bound on a program's life, whatever the test does. */
export function lifetime(ms) {
  setTimeout(() => process.exit(0), Number(ms) || 180_000).unref();
}
