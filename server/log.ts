// The server's log function type: ingest, the validator pool and the app all log through one.
export type Log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
