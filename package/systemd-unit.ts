// The systemd unit `sockhunt install` writes, and how `sockhunt uninstall` recognises it as its own.
//
// Capabilities: the agent runs as root with a bounding set of three capabilities. Two are what reading every
// process's sockets takes — CAP_DAC_READ_SEARCH to list /proc/<pid>/fd of processes of other users (those
// directories are 0500 and owned by them), CAP_SYS_PTRACE to resolve their entries and /proc/<pid>/exe
// (ptrace read access). CAP_NET_RAW opens the packet socket (AF_PACKET) that receives DNS responses, so that
// destinations carry the name that was looked up (collectors/dns-names.ts); without it the agent runs unnamed. CAP_SYS_ADMIN (setns) is left out on purpose: it is the broadest capability there is,
// and the collector reads other network namespaces from /proc/<pid>/net/* when netlink cannot enter them —
// the same sockets (test/e2e/capabilities.test.ts, test/e2e/systemd.test.ts). CAP_NET_ADMIN is not needed:
// sock_diag dumps and /proc/net/nf_conntrack are readable without it.

export const UNIT_NAME = 'sockhunt-agent.service';
export const UNIT_MARKER = '# sockhunt-agent.service: written by `sockhunt install`';
export const CAPABILITIES = ['CAP_DAC_READ_SEARCH', 'CAP_SYS_PTRACE', 'CAP_NET_RAW'] as const;

/**
 * Variables a Node.js program (the single binary included) reads from its environment that must not steer the
 * agent: code injection (NODE_OPTIONS --require, NODE_PATH), trust (NODE_EXTRA_CA_CERTS, NODE_TLS_REJECT_UNAUTHORIZED,
 * SSL_CERT_*, OPENSSL_CONF), output (NODE_DEBUG, NODE_V8_COVERAGE, NODE_REDIRECT_WARNINGS), and sockhunt's own
 * overrides of what native code it loads.
 */
export const UNSET_ENVIRONMENT = [
  'NODE_OPTIONS',
  'NODE_PATH',
  'NODE_EXTRA_CA_CERTS',
  'NODE_TLS_REJECT_UNAUTHORIZED',
  'NODE_ICU_DATA',
  'NODE_PRESERVE_SYMLINKS',
  'NODE_REPL_EXTERNAL_MODULE',
  'NODE_DEBUG',
  'NODE_DEBUG_NATIVE',
  'NODE_V8_COVERAGE',
  'NODE_REDIRECT_WARNINGS',
  'NODE_PENDING_DEPRECATION',
  'NODE_COMPILE_CACHE',
  'UV_THREADPOOL_SIZE',
  'UV_USE_IO_URING',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'OPENSSL_CONF',
  'SOCKHUNT_ADDON_DIR',
  'SOCKHUNT_SOCKDIAG_ADDON',
] as const;

export interface UnitOptions {
  /** The binary as the running system sees it (`/usr/local/bin/sockhunt`). */
  binPath: string;
  configPath: string;
  /** sha256 of the installed binary: what uninstall checks before removing it. */
  binarySha256: string;
  installedBy: string;
  /** More `sockhunt agent` options (e.g. --server URL), appended to ExecStart=. */
  agentArgs?: readonly string[];
}

/**
 * One ExecStart= word: `%` specifiers and `$` expansion neutralised, quoted when it holds whitespace, quotes or
 * backslashes (systemd.service(5), "Command lines"). Control characters are refused by the caller.
 */
export function quoteExecArg(arg: string): string {
  const escaped = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (escaped !== '' && !/[\s"'\\;]/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export const STATE_DIR = '/var/lib/sockhunt';
export const AGENT_ENV_FILE = '/etc/sockhunt/agent.env';

export function renderUnit(o: UnitOptions): string {
  return `${UNIT_MARKER} (${o.installedBy}); \`sockhunt uninstall\` removes it.
# sockhunt-binary: ${o.binPath} sha256=${o.binarySha256}
# Local changes belong in a drop-in (systemctl edit sockhunt-agent), which install and uninstall leave alone.

[Unit]
Description=sockhunt threat-hunting agent (unusual network connections)
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
ExecStart=${[o.binPath, 'agent', '--config', o.configPath, ...(o.agentArgs ?? [])].map(quoteExecArg).join(' ')}
Restart=on-failure
RestartSec=5s
Environment=SOCKHUNT_HOME=${STATE_DIR}
# Secrets stay out of the command line (ps) and out of this unit: SOCKHUNT_ENROLL_SECRET=… goes in this file (0600).
EnvironmentFile=-${AGENT_ENV_FILE}
UnsetEnvironment=${UNSET_ENVIRONMENT.join(' ')}
StateDirectory=sockhunt
StateDirectoryMode=0700
UMask=0077

# Root, reduced to what reading every process's sockets takes (see docs/packaging.md).
CapabilityBoundingSet=${CAPABILITIES.join(' ')}
AmbientCapabilities=${CAPABILITIES.join(' ')}
NoNewPrivileges=yes

ProtectSystem=strict
ReadWritePaths=${STATE_DIR}
ProtectHome=read-only
PrivateTmp=yes
PrivateMounts=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_PACKET
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
# EPERM rather than SIGSYS: a call outside the set fails like a missing capability (setns, for one, is
# answered by reading /proc/<pid>/net instead) and never kills the agent.
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
`;
}

/** The binary path and sha256 recorded in a unit `sockhunt install` wrote, or null for any other file. */
export function recordedBinary(unitText: string): { path: string; sha256: string } | null {
  if (!unitText.startsWith(UNIT_MARKER)) return null;
  const m = /^# sockhunt-binary: (\S+) sha256=([0-9a-f]{64})$/m.exec(unitText);
  return m ? { path: m[1]!, sha256: m[2]! } : null;
}
