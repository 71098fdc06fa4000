export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
}

/** A transaction's handle; `execScript` runs several statements, for migrations. */
export interface Transaction extends Queryable {
  execScript(sql: string): Promise<void>;
}

/**
 * The hub's one database interface. Every query in the hub is plain SQL that
 * runs on Postgres (through `pg`) and on PGlite (embedded, the default).
 */
export interface Db extends Queryable {
  readonly backend: 'postgres' | 'pglite';
  /** Runs `work` in one transaction; commits when it resolves, rolls back when it throws. */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DbOptions {
  /** A postgres:// URL; when absent the embedded PGlite is used. */
  databaseUrl?: string;
  /** PGlite's data directory; in memory when absent. */
  dataDir?: string;
  /** Connections in the Postgres pool. */
  poolSize?: number;
}

export async function openDb(options: DbOptions): Promise<Db> {
  if (options.databaseUrl) {
    const { openPostgres } = await import('./postgres.js');
    return openPostgres(options.databaseUrl, options.poolSize ?? 10);
  }
  const { openPglite } = await import('./pglite.js');
  return openPglite(options.dataDir);
}
