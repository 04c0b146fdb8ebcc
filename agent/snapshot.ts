// `sockhunt snapshot`: the live socket table with owners, filtered and formatted.
import type { Connection, SocketState } from '../collectors/types.js';
import { CidrSet } from '../core/ip.js';
import { SockhuntError } from '../core/errors.js';
import { csvCell, escapeForTerminal, safeJson } from '../core/escape.js';

export interface RowFilters {
  pids?: number[];
  process?: string;
  user?: string;
  states?: SocketState[];
  remote?: string;
  port?: number;
  listening?: boolean;
  established?: boolean;
}

const STATE_ALIASES: Record<string, SocketState> = {
  LISTENING: 'LISTEN',
  'SYN-SENT': 'SYN_SENT',
  'SYN-RECV': 'SYN_RECV',
  'FIN-WAIT-1': 'FIN_WAIT1',
  'FIN-WAIT-2': 'FIN_WAIT2',
  'TIME-WAIT': 'TIME_WAIT',
  'CLOSE-WAIT': 'CLOSE_WAIT',
  'LAST-ACK': 'LAST_ACK',
  UNCONN: 'UNCONNECTED',
};
const STATES: SocketState[] = [
  'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', 'CLOSE', 'CLOSE_WAIT',
  'LAST_ACK', 'LISTEN', 'CLOSING', 'UNCONNECTED',
];

export function parseState(text: string): SocketState {
  const upper = text.trim().toUpperCase();
  const state = STATE_ALIASES[upper] ?? (STATES.includes(upper as SocketState) ? (upper as SocketState) : null);
  if (!state) throw new SockhuntError('SOCKHUNT_E_USAGE', `unknown socket state ${JSON.stringify(text)} (one of ${STATES.join(', ')})`);
  return state;
}

export function rowFilter(f: RowFilters): (row: Connection) => boolean {
  const remote = f.remote ? new CidrSet([f.remote]) : null;
  const processNeedle = f.process?.toLowerCase();
  return (row) => {
    if (f.pids?.length && !row.socket.owner_pids.some((p) => f.pids!.includes(p))) return false;
    if (processNeedle) {
      const name = row.process.name?.toLowerCase() ?? '';
      const exe = row.process.executable?.toLowerCase() ?? '';
      if (!name.includes(processNeedle) && !exe.endsWith(`/${processNeedle}`) && !exe.endsWith(`\\${processNeedle}`)) return false;
    }
    if (f.user !== undefined && row.user.name !== f.user && row.user.id !== f.user) return false;
    if (f.states?.length && !f.states.includes(row.socket.state)) return false;
    if (remote && !remote.has(row.destination.ip)) return false;
    if (f.port !== undefined && row.source.port !== f.port && row.destination.port !== f.port) return false;
    if (f.listening && row.socket.state !== 'LISTEN' && row.socket.state !== 'UNCONNECTED') return false;
    if (f.established && row.socket.state !== 'ESTABLISHED') return false;
    return true;
  };
}

export type RowFormat = 'table' | 'json' | 'ndjson' | 'csv';

export const CSV_COLUMNS = [
  '@timestamp', 'host.name', 'process.pid', 'process.name', 'process.executable', 'process.command_line',
  'process.parent.pid', 'process.parent.name', 'user.name', 'user.id', 'source.ip', 'source.port',
  'destination.ip', 'destination.port', 'network.transport', 'network.type', 'network.direction',
  'socket.state', 'socket.inode', 'socket.family', 'socket.owner_pids', 'socket.netns', 'container.id',
] as const;

function pick(row: unknown, dotted: string): unknown {
  if (dotted === '@timestamp') return (row as Connection)['@timestamp'];
  let v: unknown = row;
  for (const part of dotted.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

export function formatRows(rows: Connection[], format: RowFormat, width = 120): string {
  switch (format) {
    case 'json':
      return `${safeJson(rows, 2)}\n`;
    case 'ndjson':
      return rows.map((r) => `${safeJson(r)}\n`).join('');
    case 'csv':
      return [CSV_COLUMNS.join(','), ...rows.map((r) => CSV_COLUMNS.map((c) => csvCell(pick(r, c))).join(','))]
        .map((l) => `${l}\n`)
        .join('');
    case 'table':
      return formatTable(rows, width);
  }
}

function endpoint(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function fit(text: string, width: number): string {
  return text.length <= width ? text.padEnd(width) : `${text.slice(0, Math.max(0, width - 1))}…`;
}

/** An aligned table; long addresses and names are cut with … to keep within the terminal width. */
export function formatTable(rows: Connection[], width = 120): string {
  const headers = ['PROTO', 'STATE', 'LOCAL', 'REMOTE', 'PID', 'PROCESS', 'USER'];
  const cells = rows.map((r) => [
    `${r.network.transport}${r.socket.family === 'inet6' ? '6' : ''}`,
    r.socket.state,
    endpoint(r.source.ip, r.source.port),
    r.socket.state === 'LISTEN' || r.socket.state === 'UNCONNECTED' ? '*' : endpoint(r.destination.ip, r.destination.port),
    r.process.pid === null ? '-' : String(r.process.pid),
    escapeForTerminal(r.process.name ?? '-') + (r.socket.netns ? ` [netns ${r.socket.netns}]` : ''),
    escapeForTerminal(r.user.name ?? r.user.id ?? '-'),
  ]);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  // Shrink the widest free-text columns (PROCESS, then the addresses) until the line fits.
  const budget = Math.max(60, width) - (headers.length - 1) * 2;
  const shrinkable = [5, 3, 2, 6];
  while (widths.reduce((a, b) => a + b, 0) > budget) {
    const i = shrinkable.reduce((best, c) => (widths[c]! > widths[best]! ? c : best), shrinkable[0]!);
    if (widths[i]! <= 12) break;
    widths[i]!--;
  }
  const line = (c: string[]): string => c.map((v, i) => fit(v, widths[i]!)).join('  ').trimEnd();
  return [line(headers), ...cells.map(line)].map((l) => `${l}\n`).join('');
}
