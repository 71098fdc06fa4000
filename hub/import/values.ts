/**
 * Column types of import files. Every cell arrives as text (CSV) or a JSON
 * scalar; both are turned into text first, so that a CSV file and the same
 * data as JSON import identically. An empty cell is a missing value.
 */

export type Cell = string | null;

export type ColumnType =
  | { kind: 'code' }
  | { kind: 'text'; maxLength?: number }
  | { kind: 'integer'; min: number; max: number }
  | { kind: 'decimal'; min: number; max: number }
  | { kind: 'date' }
  | { kind: 'time' }
  | { kind: 'timezone' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'list' };

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  required?: boolean;
  /** Used when the cell is empty. */
  fallback?: string;
  description: string;
}

export type Value = string | number | string[] | null;

/** Codes: letters, digits and . _ - / (ids of departments, rooms, roll numbers, section codes). */
const CODE = /^[A-Za-z0-9][A-Za-z0-9._\-/]{0,63}$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/;

export class CellError extends Error {}

/** A JSON value as a cell: scalars as text, arrays (of lists) joined with `;`. */
export function cellOfJson(value: unknown): Cell {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.join(';');
  throw new CellError('must be text, a number or a list of text');
}

export function isValidDate(text: string): boolean {
  const match = DATE.exec(text);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

function isTimezone(text: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: text });
    return true;
  } catch {
    return false;
  }
}

/** Parses one cell; throws CellError with the reason. */
export function parseCell(column: ColumnSpec, raw: Cell): Value {
  const trimmed = raw?.trim() ?? '';
  const text = trimmed === '' ? (column.fallback ?? '') : trimmed;
  if (text === '') {
    if (column.required) throw new CellError('is required');
    return column.type.kind === 'list' ? [] : null;
  }
  const type = column.type;
  switch (type.kind) {
    case 'code':
      if (!CODE.test(text)) throw new CellError(`"${text}" is not a code (letters, digits, . _ - /, at most 64)`);
      return text;
    case 'text':
      if (text.length > (type.maxLength ?? 200)) throw new CellError(`is longer than ${type.maxLength ?? 200} characters`);
      return text;
    case 'integer': {
      const value = Number(text);
      if (!/^-?\d+$/.test(text) || value < type.min || value > type.max) throw new CellError(`"${text}" is not a whole number from ${type.min} to ${type.max}`);
      return value;
    }
    case 'decimal': {
      const value = Number(text);
      if (!/^\d+(\.\d+)?$/.test(text) || value < type.min || value > type.max) throw new CellError(`"${text}" is not a number from ${type.min} to ${type.max}`);
      return value;
    }
    case 'date':
      if (!isValidDate(text)) throw new CellError(`"${text}" is not a date (YYYY-MM-DD)`);
      return text;
    case 'time':
      if (!TIME.test(text)) throw new CellError(`"${text}" is not a time of day (HH:MM)`);
      return text.length === 5 ? `${text}:00` : text;
    case 'timezone':
      if (!isTimezone(text)) throw new CellError(`"${text}" is not an IANA time zone, e.g. Asia/Kolkata`);
      return text;
    case 'enum':
      if (!type.values.includes(text)) throw new CellError(`"${text}" is not one of ${type.values.join(', ')}`);
      return text;
    case 'list':
      return [...new Set(text.split(';').map((item) => item.trim()).filter((item) => item !== ''))];
  }
}
