import { appendAudit, type AuditContext } from '../audit/append.js';
import type { Db } from '../db/db.js';
import { CsvSyntaxError, parseCsv } from './csv.js';
import { IMPORT_KINDS, KIND_TABLES, type ImportKind, type ImportRow, type TableSpec, type WriteCounts } from './tables.js';
import { CellError, cellOfJson, parseCell, type Cell } from './values.js';

export { IMPORT_KINDS, type ImportKind };

/** One problem with one cell (or, with row 0, with the file or its header). */
export interface RowError {
  /** The table within a `campus` import. */
  table?: string;
  /** 1-based data row; 0 for the header or the whole file. */
  row: number;
  /** Header name; empty when the problem is not one cell's. */
  column: string;
  reason: string;
}

export interface ImportInput {
  kind: ImportKind;
  format: 'csv' | 'json';
  /** CSV text, or the parsed JSON: an array of row objects, or for `campus` an object with an array per table. */
  body: unknown;
  /** For a `campus` CSV: the one table the file holds. */
  table?: string;
}

export interface ImportResult extends WriteCounts {
  kind: ImportKind;
  rows: number;
}

export interface ImportOptions {
  /** Who imports; the audit entry names them. */
  audit: AuditContext;
  /** Validate and write inside the transaction, then roll back. */
  dryRun?: boolean;
  /** Rows validated and written so far, of all the file's rows. */
  onProgress?(done: number, total: number): void;
}

/** Most errors an answer lists; `errorCount` says how many there were. */
const MAX_REPORTED_ERRORS = 1000;

/** The file was not imported; nothing was written. `status` is 400 when the file could not be read, 422 when rows were wrong. */
export class ImportRejected extends Error {
  constructor(
    readonly status: 400 | 422,
    readonly errors: RowError[],
  ) {
    super(`import rejected: ${errors.length} error(s)`);
  }
}

class DryRunFinished extends Error {
  constructor(readonly result: ImportResult) {
    super('dry run');
  }
}

interface TableInput {
  spec: TableSpec;
  header: string[];
  rows: { row: number; cells: Cell[] }[];
}

function tableNamed(kind: ImportKind, name: string | undefined): TableSpec {
  const tables = KIND_TABLES[kind];
  if (tables.length === 1 && (name === undefined || name === tables[0]!.name)) return tables[0]!;
  const spec = tables.find((table) => table.name === name);
  if (!spec) throw new ImportRejected(400, [{ row: 0, column: '', reason: `a ${kind} CSV file holds one table; name it (table=${tables.map((table) => table.name).join('|')})` }]);
  return spec;
}

function jsonRows(spec: TableSpec, value: unknown, errors: RowError[], table?: string): TableInput {
  if (!Array.isArray(value)) throw new ImportRejected(400, [{ table, row: 0, column: '', reason: 'expected an array of row objects' }]);
  const header = new Set<string>();
  const rows = value.map((item, index) => {
    const row = index + 1;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      errors.push({ table, row, column: '', reason: 'is not an object' });
      return undefined;
    }
    const record = item as Record<string, unknown>;
    for (const column of Object.keys(record)) header.add(column);
    return {
      row,
      cells: spec.columns.map((column) => {
        try {
          return cellOfJson(record[column.name]);
        } catch (error) {
          errors.push({ table, row, column: column.name, reason: (error as CellError).message });
          return null;
        }
      }),
    };
  });
  return { spec, header: [...header], rows: rows.filter((row) => row !== undefined) };
}

function csvRows(spec: TableSpec, text: string): TableInput {
  try {
    const { header, records } = parseCsv(text);
    const names = header.map((column) => column.trim());
    return {
      spec,
      header: names,
      rows: records.map((record) => ({ row: record.row, cells: spec.columns.map((column) => (names.includes(column.name) ? (record.cells[names.indexOf(column.name)] ?? null) : null)) })),
    };
  } catch (error) {
    if (!(error instanceof CsvSyntaxError)) throw error;
    throw new ImportRejected(400, [{ row: error.row, column: '', reason: `CSV syntax, field ${error.field}: ${error.message}` }]);
  }
}

/** Turns the body into the tables it holds, each with its rows' cells in the order of the table's columns. */
function readTables(input: ImportInput, errors: RowError[]): TableInput[] {
  const multiple = KIND_TABLES[input.kind].length > 1;
  if (input.format === 'csv') {
    if (typeof input.body !== 'string') throw new ImportRejected(400, [{ row: 0, column: '', reason: 'a CSV body must be text' }]);
    return [csvRows(tableNamed(input.kind, input.table), input.body)];
  }
  if (!multiple) return [jsonRows(KIND_TABLES[input.kind][0]!, input.body, errors)];
  const document = input.body;
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new ImportRejected(400, [{ row: 0, column: '', reason: `a ${input.kind} JSON document is an object with an array per table: ${KIND_TABLES[input.kind].map((table) => table.name).join(', ')}` }]);
  }
  const record = document as Record<string, unknown>;
  for (const name of Object.keys(record)) {
    if (!KIND_TABLES[input.kind].some((table) => table.name === name)) errors.push({ table: name, row: 0, column: '', reason: 'is not a table of this kind' });
  }
  return KIND_TABLES[input.kind].filter((spec) => record[spec.name] !== undefined).map((spec) => jsonRows(spec, record[spec.name], errors, spec.name));
}

/** Checks the header, each cell's type and that no natural key appears twice. */
function validate(table: TableInput, report: (row: number, column: string, reason: string) => void): ImportRow[] {
  const known = new Set(table.spec.columns.map((column) => column.name));
  for (const column of table.header) if (!known.has(column)) report(0, column, `unknown column; the columns are ${[...known].join(', ')}`);
  for (const column of table.spec.columns) if (column.required && !table.header.includes(column.name) && table.rows.length > 0) report(0, column.name, 'required column is missing');
  const seen = new Map<string, number>();
  const valid: ImportRow[] = [];
  for (const { row, cells } of table.rows) {
    const values: ImportRow['values'] = {};
    let ok = true;
    table.spec.columns.forEach((column, index) => {
      try {
        values[column.name] = parseCell(column, cells[index] ?? null);
      } catch (error) {
        if (!(error instanceof CellError)) throw error;
        if (table.header.includes(column.name) || !column.required) report(row, column.name, error.message);
        ok = false;
      }
    });
    if (!ok) continue;
    // A list in a key (a timetable slot's groups) is identified by its first item.
    const key = table.spec.key.map((column) => {
      const value = values[column];
      return Array.isArray(value) ? value[0] : value;
    }).join('\u0000');
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      report(row, table.spec.key.at(-1)!, `${table.spec.key.join(' + ')} repeats row ${earlier}`);
      continue;
    }
    seen.set(key, row);
    valid.push({ row, values });
  }
  return valid;
}

function isUniqueViolation(error: unknown): error is { detail?: string; message: string } {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

/**
 * Imports one file of one kind in one transaction: every row is validated
 * and written (upserted by its natural key), every problem is collected,
 * and if there is any, nothing is kept and `ImportRejected` lists them all.
 */
export async function runImport(db: Db, input: ImportInput, options: ImportOptions): Promise<ImportResult> {
  const errors: RowError[] = [];
  const tables = readTables(input, errors);
  const multiple = KIND_TABLES[input.kind].length > 1;
  const total = tables.reduce((sum, table) => sum + table.rows.length, 0);
  try {
    const result = await db.transaction(async (tx) => {
      const counts: WriteCounts = { inserted: 0, updated: 0 };
      let before = 0;
      for (const table of tables) {
        const report = (row: number, column: string, reason: string) => errors.push({ ...(multiple ? { table: table.spec.name } : {}), row, column, reason });
        const rows = validate(table, report);
        const written = await table.spec.write({ tx, reject: report, wrote: (rowsDone) => options.onProgress?.(before + rowsDone, total) }, rows);
        counts.inserted += written.inserted;
        counts.updated += written.updated;
        before += table.rows.length;
        options.onProgress?.(before, total);
      }
      if (errors.length > 0) throw new ImportRejected(422, inFileOrder(input.kind, errors));
      const result: ImportResult = { kind: input.kind, rows: total, ...counts };
      if (options.dryRun) throw new DryRunFinished(result);
      await appendAudit(tx, {
        ...options.audit,
        action: `import.${input.kind}`,
        target: `import:${input.kind}`,
        after: { format: input.format, ...(input.table ? { table: input.table } : {}), rows: total, inserted: counts.inserted, updated: counts.updated },
      });
      return result;
    });
    return result;
  } catch (error) {
    if (error instanceof DryRunFinished) return error.result;
    if (isUniqueViolation(error)) throw new ImportRejected(422, [{ row: 0, column: '', reason: `conflicts with existing data: ${error.detail ?? error.message}` }]);
    throw error;
  }
}

/** Errors by table (in the order the kind writes them), then by row. */
function inFileOrder(kind: ImportKind, errors: RowError[]): RowError[] {
  const position = (error: RowError) => KIND_TABLES[kind].findIndex((table) => table.name === error.table);
  return [...errors].sort((a, b) => position(a) - position(b) || a.row - b.row);
}

/** What an answer shows of the errors: the first MAX_REPORTED_ERRORS and how many there were. */
export function reportedErrors(errors: readonly RowError[]): { errors: RowError[]; errorCount: number } {
  return { errors: errors.slice(0, MAX_REPORTED_ERRORS), errorCount: errors.length };
}
