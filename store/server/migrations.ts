// The server database schema as an ordered list of migrations (`PRAGMA user_version` = the last applied).
// Never edit a released migration: append the next version instead.
import type { Migration } from '../sqlite/migrate.js';

const V1 = `
CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

-- host_no is the compact key other tables use (an integer index entry is a fraction of a UUID's).
CREATE TABLE hosts (
  host_no        INTEGER PRIMARY KEY,
  agent_id       TEXT NOT NULL UNIQUE,
  hostname       TEXT NOT NULL,
  facts          TEXT NOT NULL,
  agent_version  TEXT NOT NULL,
  token_hash     TEXT NOT NULL UNIQUE,
  revoked        INTEGER NOT NULL DEFAULT 0,
  revoked_at     INTEGER,
  enrolled_at    INTEGER NOT NULL,
  last_seen      INTEGER NOT NULL,
  online         INTEGER NOT NULL DEFAULT 0,
  outbox_pending INTEGER,
  outbox_dropped INTEGER
);

-- A destination (ip, port, transport) as the fleet sees it: how many hosts talk to it (from findings) and the
-- prevalence modifier its findings were scored with.
CREATE TABLE destinations (
  dest_id   INTEGER PRIMARY KEY,
  ip        TEXT NOT NULL,
  port      INTEGER NOT NULL,
  transport TEXT NOT NULL,
  hosts     INTEGER NOT NULL DEFAULT 0,
  modifier  REAL NOT NULL DEFAULT 0,
  UNIQUE (ip, port, transport)
);

-- risk_rank/score are the fleet re-scored values (modifier applied); endpoint_* what the agent sent.
-- doc is the agent's document. Indexes are kept few: each one costs a B-tree write per finding.
CREATE TABLE findings (
  event_id       TEXT PRIMARY KEY,
  host_no        INTEGER NOT NULL,
  host_name      TEXT NOT NULL,
  hunt_id        TEXT NOT NULL,
  detector       TEXT NOT NULL,
  techniques     TEXT NOT NULL,
  risk_rank      INTEGER NOT NULL CHECK (risk_rank BETWEEN 0 AND 3),
  endpoint_risk  TEXT NOT NULL CHECK (endpoint_risk IN ('Critical', 'High', 'Medium', 'Low')),
  score          REAL NOT NULL,
  endpoint_score REAL NOT NULL,
  modifier       REAL NOT NULL,
  dest_id        INTEGER NOT NULL,
  status         TEXT NOT NULL DEFAULT 'new'
                 CHECK (status IN ('new', 'investigating', 'true_positive', 'false_positive', 'closed')),
  assignee       TEXT,
  notes          TEXT,
  doc            TEXT NOT NULL,
  first_seen     INTEGER NOT NULL,
  last_seen      INTEGER NOT NULL,
  count          INTEGER NOT NULL,
  seq            INTEGER NOT NULL,
  received_at    INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
);
CREATE INDEX findings_rank ON findings (risk_rank, modifier, last_seen);
CREATE INDEX findings_host ON findings (host_no, last_seen);
CREATE INDEX findings_destination ON findings (dest_id);

CREATE TABLE seqs_seen (
  host_no INTEGER NOT NULL,
  seq     INTEGER NOT NULL,
  seen_at INTEGER NOT NULL,
  PRIMARY KEY (host_no, seq)
) WITHOUT ROWID;
CREATE INDEX seqs_seen_at ON seqs_seen (seen_at);

-- Stack counting: which hosts, and which processes on them, talk to a destination (learned from findings).
CREATE TABLE fleet_destinations (
  dest_id    INTEGER NOT NULL,
  host_no    INTEGER NOT NULL,
  process    TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen  INTEGER NOT NULL,
  PRIMARY KEY (dest_id, host_no, process)
) WITHOUT ROWID;
CREATE INDEX fleet_destinations_last_seen ON fleet_destinations (last_seen);

-- scope '*' is fleet-wide, else an agent id. port 0 / transport '' mean "any" (NULLs would defeat UNIQUE).
CREATE TABLE allow_rules (
  id          INTEGER PRIMARY KEY,
  scope       TEXT NOT NULL,
  process     TEXT NOT NULL,
  destination TEXT NOT NULL,
  port        INTEGER NOT NULL DEFAULT 0,
  transport   TEXT NOT NULL DEFAULT '' CHECK (transport IN ('', 'tcp', 'udp')),
  comment     TEXT,
  finding_id  TEXT,
  created_by  TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  UNIQUE (scope, process, destination, port, transport)
);

CREATE TABLE audit (
  id     INTEGER PRIMARY KEY,
  ts     INTEGER NOT NULL,
  who    TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT,
  detail TEXT NOT NULL
);
CREATE INDEX audit_ts ON audit (ts);
`;

// Seen (agent, seq) pairs as runs of consecutive seqs: an agent numbers its findings 1, 2, 3, … and sends them in
// batches, so a batch is usually one row here instead of a hundred (two B-tree inserts per finding less at ingest).
// A run is extended while its agent keeps sending the next seqs, for an hour at most (seen_at is its last
// extension: retention forgets whole runs). The seqs seen so far become runs.
const V2 = `
CREATE TABLE seq_runs (
  host_no INTEGER NOT NULL,
  lo      INTEGER NOT NULL,
  hi      INTEGER NOT NULL,
  seen_at INTEGER NOT NULL,
  PRIMARY KEY (host_no, lo)
) WITHOUT ROWID;
CREATE INDEX seq_runs_seen_at ON seq_runs (seen_at);
INSERT INTO seq_runs (host_no, lo, hi, seen_at)
  SELECT host_no, min(seq), max(seq), max(seen_at) FROM (
    SELECT host_no, seq, seen_at, seq - row_number() OVER (PARTITION BY host_no ORDER BY seq) AS run FROM seqs_seen
  ) GROUP BY host_no, run;
DROP TABLE seqs_seen;
`;

export const SERVER_MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'settings, hosts, findings, seqs seen, fleet destinations, allow rules, audit', up: (db) => db.exec(V1) },
  { version: 2, description: 'seen seqs as runs of consecutive seqs', up: (db) => db.exec(V2) },
];

export const SERVER_SCHEMA_VERSION = SERVER_MIGRATIONS.length;
