// The agent database schema as an ordered list of migrations. `PRAGMA user_version` holds the number of the
// last one applied. Never edit a released migration: append a new one (the next version) instead.
import type { Migration } from '../sqlite/migrate.js';

export type { Migration } from '../sqlite/migrate.js';

const V1 = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE baseline_process (
  process_key     TEXT PRIMARY KEY,
  first_seen      INTEGER NOT NULL,
  last_seen       INTEGER NOT NULL,
  samples         INTEGER NOT NULL,
  connections     INTEGER NOT NULL,
  dns_connections INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE baseline_destination (
  process_key TEXT NOT NULL REFERENCES baseline_process (process_key) ON DELETE CASCADE,
  grain       TEXT NOT NULL CHECK (grain IN ('endpoint', 'network', 'port', 'domain')),
  value       TEXT NOT NULL,
  first_seen  INTEGER NOT NULL,
  last_seen   INTEGER NOT NULL,
  samples     INTEGER NOT NULL,
  connections INTEGER NOT NULL,
  PRIMARY KEY (process_key, grain, value)
) WITHOUT ROWID;

-- port 0 / transport '' mean "any": NULLs would make the UNIQUE constraint useless.
CREATE TABLE baseline_allow (
  id              INTEGER PRIMARY KEY,
  process_pattern TEXT NOT NULL,
  destination     TEXT NOT NULL,
  port            INTEGER NOT NULL DEFAULT 0,
  transport       TEXT NOT NULL DEFAULT '' CHECK (transport IN ('', 'tcp', 'udp')),
  source          TEXT NOT NULL CHECK (source IN ('cli', 'server')),
  comment         TEXT,
  created_at      INTEGER NOT NULL,
  UNIQUE (process_pattern, destination, port, transport)
);

CREATE TABLE baseline_import (
  export_id   TEXT PRIMARY KEY,
  imported_at INTEGER NOT NULL,
  host_id     TEXT
) WITHOUT ROWID;

CREATE TABLE connection_history (
  id          INTEGER PRIMARY KEY,
  process_key TEXT,
  ip          TEXT NOT NULL,
  port        INTEGER NOT NULL,
  transport   TEXT NOT NULL CHECK (transport IN ('tcp', 'udp')),
  pid         INTEGER,
  attribution TEXT NOT NULL CHECK (attribution IN ('socket', 'inferred', 'none')),
  conn_id     TEXT NOT NULL,
  started_at  INTEGER NOT NULL,
  ended_at    INTEGER
);
CREATE INDEX connection_history_started ON connection_history (started_at);
CREATE INDEX connection_history_open ON connection_history (conn_id) WHERE ended_at IS NULL;

CREATE TABLE findings (
  event_id    TEXT PRIMARY KEY,
  hunt_id     TEXT NOT NULL,
  detector    TEXT NOT NULL,
  process_key TEXT,
  dest_ip     TEXT,
  dest_port   INTEGER,
  transport   TEXT,
  risk        TEXT NOT NULL CHECK (risk IN ('Critical', 'High', 'Medium', 'Low')),
  confidence  TEXT NOT NULL CHECK (confidence IN ('High', 'Medium', 'Low')),
  score       REAL NOT NULL,
  first_seen  INTEGER NOT NULL,
  last_seen   INTEGER NOT NULL,
  count       INTEGER NOT NULL,
  dedupe_key  TEXT NOT NULL,
  updated_at  INTEGER NOT NULL,
  doc         TEXT NOT NULL
);
CREATE INDEX findings_dedupe ON findings (dedupe_key, last_seen);
CREATE INDEX findings_last_seen ON findings (last_seen);

CREATE TABLE hunt_sequence (
  day TEXT PRIMARY KEY,
  seq INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE detector_state (
  detector   TEXT NOT NULL,
  key        TEXT NOT NULL,
  value      TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (detector, key)
) WITHOUT ROWID;
`;

// Version 2: store-and-forward to the server. `outbox.seq` is the per-agent wire sequence number; it comes from
// `outbox_state.last_seq`, so a number is never reused even after its row was acked or dropped. The counters
// (rows, bytes, dropped, rejected) are kept in the same transactions as the rows they count.
const V2 = `
CREATE TABLE outbox (
  seq        INTEGER PRIMARY KEY,
  event_id   TEXT NOT NULL,
  risk_rank  INTEGER NOT NULL CHECK (risk_rank BETWEEN 0 AND 3),
  bytes      INTEGER NOT NULL,
  doc        TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX outbox_event ON outbox (event_id);
CREATE INDEX outbox_drop_order ON outbox (risk_rank, seq);

CREATE TABLE outbox_state (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  last_seq INTEGER NOT NULL,
  rows     INTEGER NOT NULL,
  bytes    INTEGER NOT NULL,
  dropped  INTEGER NOT NULL,
  rejected INTEGER NOT NULL
);
INSERT INTO outbox_state (id, last_seq, rows, bytes, dropped, rejected) VALUES (1, 0, 0, 0, 0, 0);

-- One token per server origin (scheme://host:port): a token is never presented to another server.
CREATE TABLE server_identity (
  server      TEXT PRIMARY KEY,
  token       TEXT NOT NULL,
  enrolled_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

// Version 3: the end of a connection is marked by the history row's id, which the agent keeps for the connection
// while it is open; the partial index by connection identity that the end used to search was written on every
// insert and is no longer read.
const V3 = `
DROP INDEX IF EXISTS connection_history_open;
`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'meta, baseline, connection history, findings, hunt id sequence, detector state',
    up: (db) => db.exec(V1),
  },
  {
    version: 2,
    description: 'outbox (findings waiting for the server), its sequence and counters, server tokens',
    up: (db) => db.exec(V2),
  },
  {
    version: 3,
    description: 'connection ends are marked by history row id: drop the index by connection identity',
    up: (db) => db.exec(V3),
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;
