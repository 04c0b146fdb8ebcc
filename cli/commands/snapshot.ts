import { createCollector, type CollectorChoice } from '../../collectors/index.js';
import { formatRows, parseState, rowFilter, type RowFormat } from '../../agent/snapshot.js';
import { parseCidr } from '../../core/ip.js';
import { type Command, enumOption, intOption } from './command.js';

export const snapshotCommand: Command = {
  name: 'snapshot',
  summary: 'Print every socket on this host with its owning process, now (live response).',
  usage: 'sockhunt snapshot [--format table|json|ndjson|csv] [filters]',
  options: {
    format: { type: 'string', short: 'f', description: 'table (default), json, ndjson or csv', valueName: 'FORMAT' },
    pid: { type: 'string', multiple: true, description: 'only sockets held by this pid (repeatable)', valueName: 'PID' },
    process: { type: 'string', description: 'only processes whose name contains NAME', valueName: 'NAME' },
    user: { type: 'string', description: 'only sockets of this user name or uid', valueName: 'USER' },
    state: { type: 'string', multiple: true, description: 'only this socket state, e.g. established, time-wait (repeatable)', valueName: 'STATE' },
    remote: { type: 'string', description: 'only sockets whose remote address is in CIDR or equals IP', valueName: 'CIDR|IP' },
    port: { type: 'string', description: 'only sockets with this local or remote port', valueName: 'PORT' },
    listening: { type: 'boolean', short: 'l', description: 'only listening TCP and unconnected UDP sockets' },
    established: { type: 'boolean', short: 'e', description: 'only established sockets' },
    netns: { type: 'string', description: 'all (default): every network namespace found among processes; self: only ours', valueName: 'all|self' },
    collector: { type: 'string', description: 'auto (default), linux, linux-proc, systeminformation, node-netstat', valueName: 'NAME' },
  },
  async run(values, _positionals, io) {
    const format = enumOption<RowFormat>(values.format, 'format', ['table', 'json', 'ndjson', 'csv'], 'table');
    const netns = enumOption(values.netns, 'netns', ['all', 'self'] as const, 'all');
    const collectorName = enumOption<CollectorChoice>(values.collector, 'collector', ['auto', 'linux', 'linux-proc', 'systeminformation', 'node-netstat'], 'auto');
    if (typeof values.remote === 'string') parseCidr(values.remote);
    const filter = rowFilter({
      pids: ((values.pid as string[] | undefined) ?? []).map((p) => intOption(p, 'pid', 0, 2 ** 31)!),
      process: values.process as string | undefined,
      user: values.user as string | undefined,
      states: ((values.state as string[] | undefined) ?? []).map(parseState),
      remote: values.remote as string | undefined,
      port: intOption(values.port, 'port', 0, 65535),
      listening: values.listening === true,
      established: values.established === true,
    });
    const collector = await createCollector(collectorName);
    try {
      const rows = (await collector.sample({ netns })).filter(filter);
      io.out(formatRows(rows, format, io.columns));
    } finally {
      collector.close?.();
    }
    return 0;
  },
};
