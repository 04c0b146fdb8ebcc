// Attribution records for the third-party lists shipped in agent/data (kept with the data, shown in docs and evidence).

export const DRL = 'Detection Rule License (DRL) 1.1' as const;
export const DRL_URL = 'https://github.com/SigmaHQ/Detection-Rule-License';

export interface SigmaRuleAttribution {
  title: string;
  id: string;
  author: string;
  date: string;
  modified?: string;
  level: string;
  product: string;
  /** The rule file at the commit the list was taken from. */
  url: string;
  license: typeof DRL;
}

export interface ListAttribution {
  source: string;
  /** Where in the source the list lives (rule or list names). */
  items: string;
  author: string;
  url: string;
  license: string;
}
