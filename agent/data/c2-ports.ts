// Generated from the Sigma rule files named below (SigmaHQ/sigma at commit 8eaafff1f284) and shipped with
// the product, which never reads the rule repository at run time. The rules are licensed under the Detection Rule
// License (DRL) 1.1: keep each rule's author and link with the lists, and keep the author in any message about a match
// (the detectors put it in the finding's evidence).
import { DRL, type SigmaRuleAttribution } from './attribution.js';

export interface C2PortList {
  rule: SigmaRuleAttribution;
  /** Destination ports of the rule's selection (initiated connections; the rules exclude local and private ranges). */
  ports: readonly number[];
}

export const C2_PORT_LISTS: readonly C2PortList[] = [
  {
    rule: {
      title: 'Potentially Suspicious Malware Callback Communication - Linux',
      id: 'dbfc7c98-04ab-4ab7-aa94-c74d22aa7376',
      author: 'hasselj',
      date: '2024-05-10',
      level: 'high',
      product: 'linux',
      url: 'https://github.com/SigmaHQ/sigma/blob/8eaafff1f2845a696050e05e72ba1140ee190698/rules/linux/network_connection/net_connection_lnx_susp_malware_callback_port.yml',
      license: DRL,
    },
    ports: [
      888, 999, 2200, 2222, 4000, 4444, 6789, 8531, 50501, 51820,
    ],
  },
  {
    rule: {
      title: 'Potentially Suspicious Malware Callback Communication',
      id: '4b89abaa-99fe-4232-afdd-8f9aa4d20382',
      author: 'Florian Roth (Nextron Systems)',
      date: '2017-03-19',
      modified: '2024-03-12',
      level: 'high',
      product: 'windows',
      url: 'https://github.com/SigmaHQ/sigma/blob/8eaafff1f2845a696050e05e72ba1140ee190698/rules/windows/network_connection/net_connection_win_susp_malware_callback_port.yml',
      license: DRL,
    },
    ports: [
      100, 198, 200, 243, 473, 666, 700, 743, 777, 1443, 1515, 1777, 1817, 1904, 1960, 2443, 2448, 3360, 3675, 3939,
      4040, 4433, 4438, 4443, 4444, 4455, 5445, 5552, 5649, 6625, 7210, 7777, 8143, 8843, 9631, 9943, 10101, 12102,
      12103, 12322, 13145, 13394, 13504, 13505, 13506, 13507, 14102, 14103, 14154, 49180, 65520, 65535,
    ],
  },
  {
    rule: {
      title: 'Communication To Uncommon Destination Ports',
      id: '6d8c3d20-a5e1-494f-8412-4571d716cf5c',
      author: 'Florian Roth (Nextron Systems)',
      date: '2017-03-19',
      modified: '2024-03-12',
      level: 'medium',
      product: 'windows',
      url: 'https://github.com/SigmaHQ/sigma/blob/8eaafff1f2845a696050e05e72ba1140ee190698/rules/windows/network_connection/net_connection_win_susp_malware_callback_ports_uncommon.yml',
      license: DRL,
    },
    ports: [
      8080, 8888,
    ],
  },
];
