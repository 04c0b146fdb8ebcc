// The one list of collectors, and the choice by platform.
import type { Collector } from './types.js';
import { SockhuntError } from '../core/errors.js';

export type CollectorChoice = 'auto' | 'linux' | 'linux-proc' | 'systeminformation' | 'node-netstat';

/** Linux reads the kernel itself; macOS and Windows go through systeminformation; node-netstat is the fallback. */
export async function createCollector(choice: CollectorChoice = 'auto', platform = process.platform): Promise<Collector> {
  const pick = choice === 'auto' ? (platform === 'linux' ? 'linux' : platform === 'darwin' || platform === 'win32' ? 'systeminformation' : 'node-netstat') : choice;
  switch (pick) {
    case 'linux':
    case 'linux-proc': {
      if (platform !== 'linux') throw new SockhuntError('SOCKHUNT_E_PLATFORM', `the ${pick} collector needs Linux, this is ${platform}`);
      const { createLinuxCollector } = await import('./linux.js');
      return createLinuxCollector({ tables: pick === 'linux-proc' ? 'proc' : 'auto' });
    }
    case 'systeminformation': {
      const { createSystemInformationCollector } = await import('./systeminformation.js');
      return createSystemInformationCollector();
    }
    case 'node-netstat': {
      const { createNetstatCollector } = await import('./netstat.js');
      return createNetstatCollector();
    }
    default:
      throw new SockhuntError('SOCKHUNT_E_USAGE', `unknown collector ${JSON.stringify(choice)}`);
  }
}
