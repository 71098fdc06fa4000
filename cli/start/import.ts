import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { extname } from 'node:path';
import { openDb, type Db } from '../../hub/db/db.js';
import { migrate } from '../../hub/db/migrate.js';
import { IMPORT_KINDS, ImportRejected, runImport, type ImportKind, type ImportResult, type RowError } from '../../hub/import/run.js';
import type { ParsedArgs } from '../commands/command.js';
import { createProgressBar } from './progress.js';
import { stringArg, UsageError } from './args.js';

/** `row 12, column roll_no: is required` (with the table for campus files). */
export function formatRowError(error: RowError): string {
  const where = [error.table ? `table ${error.table}` : '', error.row > 0 ? `row ${error.row}` : 'header', error.column ? `column ${error.column}` : ''].filter(Boolean).join(', ');
  return `${where}: ${error.reason}`;
}

export function kindArg(value: string | undefined): ImportKind {
  if (!value || !(IMPORT_KINDS as readonly string[]).includes(value)) throw new UsageError(`the kind must be one of ${IMPORT_KINDS.join(', ')}, not ${JSON.stringify(value ?? '')}`);
  return value as ImportKind;
}

export function openImportDb(args: ParsedArgs): Promise<Db> {
  const databaseUrl = stringArg(args, 'database-url');
  return openDb({ databaseUrl, dataDir: databaseUrl ? undefined : (stringArg(args, 'data-dir') ?? './data/hub'), poolSize: 1 });
}

/**
 * Imports one file with a progress bar on stderr. Resolves with the result,
 * or prints every row error and resolves with undefined.
 */
export async function importFile(db: Db, kind: ImportKind, file: string, options: { format?: string; table?: string; dryRun?: boolean }): Promise<ImportResult | undefined> {
  const format = options.format ?? (extname(file).toLowerCase() === '.json' ? 'json' : 'csv');
  if (format !== 'csv' && format !== 'json') throw new UsageError(`--format must be csv or json, not ${JSON.stringify(format)}`);
  const text = readFileSync(file, 'utf8');
  let body: unknown = text;
  if (format === 'json') {
    try {
      body = JSON.parse(text);
    } catch (error) {
      process.stderr.write(`${file}: not JSON: ${(error as Error).message}\n`);
      return undefined;
    }
  }
  const progress = createProgressBar(0, { label: `importing ${kind}` });
  try {
    const result = await runImport(db, { kind, format, body, table: options.table }, {
      audit: { actor: `cli:${userInfo().username}`, source: 'cli' },
      dryRun: options.dryRun,
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.finish();
    return result;
  } catch (error) {
    progress.finish();
    if (!(error instanceof ImportRejected)) throw error;
    process.stderr.write(`${file}: nothing was imported; ${error.errors.length} error(s):\n`);
    for (const rowError of error.errors) process.stderr.write(`  ${formatRowError(rowError)}\n`);
    return undefined;
  }
}

export async function runImportCommand(args: ParsedArgs): Promise<number> {
  const kind = kindArg(args.positionals[0]);
  const file = args.positionals[1];
  if (!file) throw new UsageError('give the file to import: campushub import <kind> <file>');
  const db = await openImportDb(args);
  try {
    await migrate(db);
    const dryRun = args.values['dry-run'] === true;
    const result = await importFile(db, kind, file, { format: stringArg(args, 'format'), table: stringArg(args, 'table'), dryRun });
    if (!result) return 1;
    console.log(JSON.stringify({ ...result, ...(dryRun ? { dryRun: true } : {}) }));
    return 0;
  } finally {
    await db.close();
  }
}
