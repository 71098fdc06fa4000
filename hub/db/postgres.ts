import pg from 'pg';
import type { Db, QueryResult, Transaction } from './db.js';

// int8 (counts, sums) arrives as a JS number, as it does from PGlite; values
// used here stay far below 2^53.
pg.types.setTypeParser(20, (value) => Number(value));

function wrap(client: pg.Pool | pg.PoolClient): Transaction {
  return {
    async execScript(sql: string) {
      await client.query(sql);
    },
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const result = await client.query(sql, params as unknown[] | undefined);
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    },
  };
}

export async function openPostgres(url: string, poolSize: number): Promise<Db> {
  // JIT compilation pays off for long analytical queries; for ingest and matching it costs more than the query (350 ms of JIT on a 5,000-tap match).
  const pool = new pg.Pool({ connectionString: url, max: poolSize, options: '-c jit=off' });
  // An idle client that loses its server emits here; without a listener the process dies.
  pool.on('error', () => {});
  await pool.query('select 1');
  const queryable = wrap(pool);
  return {
    backend: 'postgres',
    query: queryable.query,
    async transaction(work) {
      const client = await pool.connect();
      // A connection lost mid-transaction also emits 'error' on the client; the failed query reports it.
      const ignore = () => {};
      client.on('error', ignore);
      try {
        await client.query('begin');
        const result = await work(wrap(client));
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback').catch(() => {});
        throw error;
      } finally {
        client.off('error', ignore);
        client.release();
      }
    },
    async close() {
      await pool.end();
    },
  };
}
