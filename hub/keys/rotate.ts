import { appendAudit, type AuditSource } from '../audit/append.js';
import type { Db, Queryable } from '../db/db.js';
import { wrapContext, wrapOfRow } from './dataKeys.js';
import { KeyError, type Keyring } from './keyring.js';

export interface RotationProgress {
  /** Data keys re-wrapped so far in this run. */
  rewrapped: number;
  /** Data keys not under the new KEK when this run started (grows if rows appear meanwhile). */
  total: number;
  /** Batches committed so far in this run. */
  batches: number;
}

export interface RotateKeysOptions {
  db: Db;
  keyring: Keyring;
  /** The KEK to re-wrap under; default the keyring's active one. Must be in the keyring. */
  newKekId?: string;
  /** Rows per transaction (default 500). */
  batchSize?: number;
  /** Called after each committed batch; a throw stops the rotation (the committed batches stay). */
  onProgress?: (progress: RotationProgress) => void | Promise<void>;
  actor?: string;
  source?: AuditSource;
}

export interface RotationResult {
  kekId: string;
  rewrapped: number;
  /** Rows already under the new KEK when the run started (from an interrupted run, or new since). */
  alreadyCurrent: number;
  batches: number;
}

/** How many data keys each KEK wraps. */
export async function countDataKeysByKek(db: Queryable): Promise<Map<string, number>> {
  const { rows } = await db.query<{ kek_id: string; count: string | number }>('select kek_id, count(*) as count from data_keys group by kek_id order by kek_id');
  return new Map(rows.map((row) => [row.kek_id, Number(row.count)]));
}

/**
 * Re-wraps every data key not under `newKekId`, `batchSize` rows per
 * transaction. Only the DEK wraps change; no payload is re-encrypted. Rows
 * already under the new KEK are skipped, so a rerun after an interruption
 * continues where the last committed batch ended. Rows locked by a concurrent
 * rotation are skipped too (`for update skip locked`). Writes a `keys.rotate`
 * audit entry at the start and one at completion, with counts only.
 */
export async function rotateKeys(options: RotateKeysOptions): Promise<RotationResult> {
  const { db, keyring } = options;
  const kekId = options.newKekId ?? keyring.activeId;
  const batchSize = options.batchSize ?? 500;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive whole number');
  if (!keyring.has(kekId)) throw new KeyError('kek_missing', `cannot re-wrap under "${kekId}": it is not in ${keyring.source}`);
  const audit = { actor: options.actor ?? 'system', source: options.source ?? ('system' as const), action: 'keys.rotate', target: `kek:${kekId}` };

  const before = await countDataKeysByKek(db);
  const alreadyCurrent = before.get(kekId) ?? 0;
  const pending = Object.fromEntries([...before].filter(([kid]) => kid !== kekId));
  let total = Object.values(pending).reduce((sum, count) => sum + count, 0);
  await db.transaction((tx) => appendAudit(tx, { ...audit, after: { phase: 'start', kekId, pendingByKek: pending, alreadyCurrent, batchSize } }));

  let rewrapped = 0;
  let batches = 0;
  for (;;) {
    const count = await db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string | number; owner: string; kek_id: string; wrapped: Uint8Array }>(
        'select id, owner, kek_id, wrapped from data_keys where kek_id <> $1 order by id limit $2 for update skip locked',
        [kekId, batchSize],
      );
      for (const row of rows) {
        const context = wrapContext(row.owner);
        let dek: Buffer;
        try {
          dek = keyring.unwrap(wrapOfRow(row), context);
        } catch (error) {
          throw new KeyError('kek_missing', `cannot re-wrap the data key of ${row.owner} (data_keys id ${row.id}): ${(error as Error).message}`);
        }
        const wrap = keyring.wrap(dek, context, kekId);
        dek.fill(0);
        await tx.query('update data_keys set kek_id = $1, wrapped = $2, rewrapped_at = now() where id = $3', [kekId, Buffer.from(wrap.wrapped, 'base64'), row.id]);
      }
      return rows.length;
    });
    if (count === 0) break;
    rewrapped += count;
    batches += 1;
    total = Math.max(total, rewrapped);
    await options.onProgress?.({ rewrapped, total, batches });
  }

  const after = await countDataKeysByKek(db);
  await db.transaction((tx) =>
    appendAudit(tx, { ...audit, after: { phase: 'complete', kekId, rewrapped, batches, byKek: Object.fromEntries(after) } }),
  );
  return { kekId, rewrapped, alreadyCurrent, batches };
}
