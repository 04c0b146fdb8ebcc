import { describe, expect, it } from 'vitest';
import { parseConntrack } from '../../collectors/conntrack.js';

// Lines in the kernel's /proc/net/nf_conntrack format, as captured on the development machine inside a
// namespace with an nftables `ct state` rule (addresses changed to documentation ranges).
const TEXT = `ipv4     2 tcp      6 9 CLOSE src=192.0.2.10 dst=203.0.113.5 sport=46104 dport=8443 src=203.0.113.5 dst=192.0.2.10 sport=8443 dport=46104 [ASSURED] mark=0 zone=0 use=2
ipv4     2 udp      17 29 src=192.0.2.10 dst=198.51.100.53 sport=35214 dport=53 [UNREPLIED] src=198.51.100.53 dst=192.0.2.10 sport=53 dport=35214 mark=0 zone=0 use=2
ipv6     10 tcp      6 431999 ESTABLISHED src=2001:0db8:0000:0000:0000:0000:0000:0001 dst=2001:0db8:0000:0000:0000:0000:0000:00ff sport=5000 dport=443 src=2001:0db8:0000:0000:0000:0000:0000:00ff dst=2001:0db8:0000:0000:0000:0000:0000:0001 sport=443 dport=5000 [ASSURED] mark=0 zone=0 use=2
ipv4     2 icmp     1 29 src=192.0.2.10 dst=192.0.2.1 type=8 code=0 id=1 src=192.0.2.1 dst=192.0.2.10 type=0 code=0 id=1 mark=0 use=2
garbage line
`;

describe('parseConntrack', () => {
  it('reads the original direction of TCP and UDP flows', () => {
    const flows = parseConntrack(TEXT);
    expect(flows).toHaveLength(3);
    expect(flows[0]).toEqual({ transport: 'tcp', family: 'inet', srcIp: '192.0.2.10', srcPort: 46104, dstIp: '203.0.113.5', dstPort: 8443, state: 'CLOSE', unreplied: false });
    expect(flows[1]).toMatchObject({ transport: 'udp', dstIp: '198.51.100.53', dstPort: 53, state: null, unreplied: true });
    expect(flows[2]).toMatchObject({ family: 'inet6', srcIp: '2001:db8::1', dstIp: '2001:db8::ff', state: 'ESTABLISHED' });
  });
});
