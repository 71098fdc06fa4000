import { existsSync } from 'node:fs';
import { checkpointLocation, loadCheckpointPublicKey, readCheckpoints, type CheckpointReading } from '../../hub/audit/checkpoint.js';
import { verifyAuditChain, type AuditVerifyResult } from '../../hub/audit/verify.js';
import { openDb, type Db } from '../../hub/db/db.js';
import { AUDIT_ACTIONS } from '../commands/audit.js';
import type { ParsedArgs } from '../commands/command.js';
import { UsageError, stringArg } from './args.js';

/** Exit codes: intact, broken, and could not check (no database, no audit_log, a query failed). */
export const AUDIT_EXIT = { intact: 0, broken: 1, unchecked: 3 } as const;

const PROGRESS_EVERY_MS = 1000;

export async function runAudit(args: ParsedArgs): Promise<number> {
  const action = args.positionals[0];
  if (!AUDIT_ACTIONS.includes(action as (typeof AUDIT_ACTIONS)[number])) {
    throw new UsageError(`unknown action ${JSON.stringify(action ?? '')}; choose one of ${AUDIT_ACTIONS.join(', ')}`);
  }
  const json = args.values.json === true;
  const databaseUrl = stringArg(args, 'database-url');
  const dataDir = databaseUrl ? undefined : (stringArg(args, 'data-dir') ?? './data/hub');
  // Opening PGlite on a missing directory would create an empty database; say what is wrong instead.
  if (dataDir !== undefined && !existsSync(dataDir)) return unchecked(`no PGlite data directory at ${dataDir}`);

  let reading: CheckpointReading = { checkpoints: [], rejected: [] };
  const location = checkpointLocation({ checkpointDir: stringArg(args, 'checkpoint-dir'), checkpointKeyFile: stringArg(args, 'checkpoint-key') }, dataDir);
  if (location && existsSync(location.dir)) {
    if (!existsSync(location.keyFile)) return unchecked(`checkpoints at ${location.dir} but no checkpoint key at ${location.keyFile} (--checkpoint-key)`);
    reading = readCheckpoints(location.dir, loadCheckpointPublicKey(location.keyFile));
    for (const name of reading.rejected) process.stderr.write(`campushub audit verify: ${name} is not a checkpoint signed by ${location.keyFile}; ignored\n`);
  }

  let db: Db;
  try {
    db = await openDb({ databaseUrl, dataDir, poolSize: 1 });
  } catch (error) {
    return unchecked(`cannot open the database: ${(error as Error).message}`);
  }
  try {
    const table = await db.query<{ name: string | null }>(`select to_regclass('audit_log')::text as name`);
    if (!table.rows[0]?.name) return unchecked('the database has no audit_log table; run `campushub migrate` first');
    let lastProgress = performance.now();
    const result = await verifyAuditChain(db, {
      checkpoints: reading.checkpoints,
      onProgress({ checked, total }) {
        const now = performance.now();
        if (now - lastProgress < PROGRESS_EVERY_MS) return;
        lastProgress = now;
        process.stderr.write(`campushub audit verify: ${checked}/${total} entries checked\n`);
      },
    });
    console.log(json ? JSON.stringify(result) : describe(result));
    return result.ok ? AUDIT_EXIT.intact : AUDIT_EXIT.broken;
  } catch (error) {
    return unchecked((error as Error).message);
  } finally {
    await db.close();
  }
}

function unchecked(message: string): number {
  process.stderr.write(`campushub audit verify: could not check the audit log: ${message}\n`);
  return AUDIT_EXIT.unchecked;
}

export function describe(result: AuditVerifyResult): string {
  const unsealed = result.unsealed > 0 ? `, ${result.unsealed} not sealed yet` : '';
  const checkpoints = result.checkpoints > 0 ? `, ${result.checkpoints} signed checkpoints matched` : '';
  if (result.ok) {
    const head = result.head ? ` (head seq ${result.head.seq}, hash ${result.head.hash})` : '';
    return `audit log intact: ${result.sealed} sealed entries${head}${checkpoints}${unsealed}`;
  }
  const bad = result.firstBad!;
  const entry = bad.id === null ? 'no entry' : `id ${bad.id}, action ${bad.action}`;
  const others = result.broken > 1 ? `; ${result.broken - 1} more broken entries after it` : '';
  return `audit log BROKEN at seq ${bad.seq} (${entry}): ${bad.reason}: ${bad.detail}${others}; ${result.sealed} sealed entries checked${unsealed}`;
}
