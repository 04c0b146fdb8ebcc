// What a process "is", by name: the usual remote ports of well-known client families, and the system resolvers.
import type { Connection, Transport } from '../../collectors/types.js';

export interface ProcessFamily {
  id: string;
  label: string;
  /** Lower-case process names / executable basenames (".exe" removed). */
  names: readonly string[];
  tcp: readonly number[];
  udp: readonly number[];
}

const WEB = [80, 443, 8080, 8443];

export const FAMILIES: readonly ProcessFamily[] = [
  {
    id: 'browser',
    label: 'web browser',
    names: ['firefox', 'firefox-esr', 'firefox-bin', 'librewolf', 'chrome', 'google-chrome', 'chromium', 'chromium-browser',
      'msedge', 'microsoft-edge', 'brave', 'brave-browser', 'opera', 'vivaldi', 'vivaldi-bin', 'epiphany', 'safari',
      'iexplore', 'falkon', 'qutebrowser'],
    tcp: WEB,
    // QUIC, the browser's own DNS client, WebRTC STUN/TURN
    udp: [443, 53, 3478, 19302],
  },
  {
    id: 'http-client',
    label: 'HTTP client',
    names: ['curl', 'wget', 'wget2', 'aria2c', 'axel', 'lynx', 'links', 'elinks', 'w3m', 'xh', 'httpie'],
    tcp: WEB,
    udp: [443],
  },
  {
    id: 'package-manager',
    label: 'package manager',
    names: ['apt', 'apt-get', 'aptitude', 'http', 'https', 'dnf', 'yum', 'microdnf', 'zypper', 'pacman', 'apk', 'pip',
      'pip3', 'gem', 'cargo', 'snapd', 'flatpak', 'brew', 'npm', 'yarn', 'pnpm', 'conda', 'packagekitd',
      'unattended-upgrade'],
    tcp: WEB,
    udp: [],
  },
  { id: 'ssh', label: 'SSH client', names: ['ssh', 'scp', 'sftp', 'autossh'], tcp: [22], udp: [] },
  { id: 'git', label: 'git', names: ['git', 'git-remote-http', 'git-remote-https'], tcp: [22, 80, 443, 9418], udp: [] },
  { id: 'rsync', label: 'rsync', names: ['rsync'], tcp: [873, 22], udp: [] },
  {
    id: 'dns-tool',
    label: 'DNS lookup tool',
    names: ['dig', 'nslookup', 'host', 'drill', 'kdig', 'delv', 'dog', 'q'],
    tcp: [53, 853, 443],
    udp: [53, 853],
  },
  {
    id: 'ntp',
    label: 'time sync client',
    names: ['ntpd', 'chronyd', 'ntpdate', 'sntp', 'systemd-timesyncd', 'openntpd', 'timesyncd'],
    tcp: [4460], // NTS key establishment
    udp: [123],
  },
  {
    id: 'mta',
    label: 'mail transfer agent',
    names: ['smtp', 'sendmail', 'exim', 'exim4', 'msmtp', 'ssmtp', 'dma', 'swaks', 'opensmtpd', 'smtpd'],
    tcp: [25, 465, 587, 2525],
    udp: [],
  },
  {
    id: 'mail-client',
    label: 'mail client',
    names: ['thunderbird', 'mutt', 'neomutt', 'evolution', 'fetchmail', 'getmail', 'mbsync', 'offlineimap', 'kmail',
      'claws-mail', 'outlook'],
    tcp: [25, 465, 587, 110, 995, 143, 993, 4190, 80, 443],
    udp: [],
  },
  {
    id: 'postgres-client',
    label: 'PostgreSQL client',
    names: ['psql', 'pg_dump', 'pg_dumpall', 'pg_restore', 'pg_basebackup', 'pgbench'],
    tcp: [5432],
    udp: [],
  },
  {
    id: 'mysql-client',
    label: 'MySQL client',
    names: ['mysql', 'mariadb', 'mysqldump', 'mariadb-dump', 'mysqladmin'],
    tcp: [3306],
    udp: [],
  },
  { id: 'mongo-client', label: 'MongoDB client', names: ['mongo', 'mongosh', 'mongodump', 'mongorestore'], tcp: [27017], udp: [] },
  { id: 'redis-client', label: 'Redis client', names: ['redis-cli'], tcp: [6379, 26379], udp: [] },
  { id: 'mssql-client', label: 'SQL Server client', names: ['sqlcmd', 'bcp'], tcp: [1433], udp: [1434] },
  { id: 'oracle-client', label: 'Oracle client', names: ['sqlplus'], tcp: [1521], udp: [] },
  { id: 'cassandra-client', label: 'Cassandra client', names: ['cqlsh'], tcp: [9042], udp: [] },
];

/** System resolvers and DNS forwarders: they are expected to talk to port 53 of arbitrary servers. */
export const RESOLVER_NAMES: readonly string[] = [
  'systemd-resolved', 'systemd-resolve', 'dnsmasq', 'unbound', 'named', 'nscd', 'pdns_recursor', 'pdns_server',
  'kresd', 'knot-resolver', 'coredns', 'dnscrypt-proxy', 'stubby', 'pihole-ftl', 'dnsdist', 'smartdns',
  'adguardhome', 'blocky', 'aardvark-dns', 'nsd', 'lwresd', 'dns',
];

function baseName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] ?? path;
}

function norm(name: string): string {
  return name.toLowerCase().replace(/\.exe$/, '');
}

/** Candidate names of a row's process: its name and the basename of its executable. */
export function processNames(row: Connection): string[] {
  const out: string[] = [];
  if (row.process.name) out.push(norm(row.process.name));
  if (row.process.executable) out.push(norm(baseName(row.process.executable)));
  return out;
}

export function familyOf(row: Connection): ProcessFamily | null {
  const names = processNames(row);
  return FAMILIES.find((f) => names.some((n) => f.names.includes(n))) ?? null;
}

export function familyUsesPort(f: ProcessFamily, port: number, transport: Transport): boolean {
  return (transport === 'tcp' ? f.tcp : f.udp).includes(port);
}

export function isResolverProcess(row: Connection, extraNames: readonly string[] = []): boolean {
  const names = processNames(row);
  const list = [...RESOLVER_NAMES, ...extraNames.map(norm)];
  return names.some((n) => list.includes(n));
}

/** A short human label for a row's process, used in evidence and actions. */
export function processLabel(row: Connection): string {
  const name = row.process.name ?? (row.process.executable ? baseName(row.process.executable) : 'unknown process');
  return row.process.pid === null ? `${name} (pid unknown)` : `${name} (pid ${row.process.pid})`;
}
