import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { Db, QueryResult, Transaction } from './db.js';

interface PgliteQueryable {
  query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[]; affectedRows?: number }>;
  exec(sql: string): Promise<unknown>;
}

function wrap(target: PgliteQueryable): Transaction {
  return {
    async execScript(sql: string) {
      await target.exec(sql);
    },
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const result = await target.query<R>(sql, params as unknown[] | undefined);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
  };
}

export async function openPglite(dataDir: string | undefined): Promise<Db> {
  // PGlite creates only the last path segment; a fresh clone has no ./data yet.
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const pglite = await PGlite.create(dataDir);
  const queryable = wrap(pglite);
  return {
    backend: 'pglite',
    query: queryable.query,
    // PGlite is one connection; its transaction() holds that connection's lock.
    transaction: (work) => pglite.transaction((tx) => work(wrap(tx))),
    async close() {
      await pglite.close();
    },
  };
}
