import { createHash } from 'node:crypto';

/**
 * The canonical encoding of one audit entry, the input of its chain hash:
 *
 *   hash(seq) = SHA-256(prev_hash ‖ UTF-8(canonicalAuditEntry(row)))
 *   prev_hash(1) = 32 zero bytes; prev_hash(n) = hash(n - 1)
 *
 * `canonicalAuditEntry` is one JSON object without whitespace, its keys in this
 * fixed order: v (format version, 1), seq, id, at, actor, action, target,
 * before, after, reason, source, request_id, ip, outcome.
 *
 * - seq and id: JSON numbers, the decimal digits Postgres prints for the bigint.
 * - at: a string, the stored instant in UTC as `YYYY-MM-DDTHH:MM:SS.ffffffZ`
 *   (always six fraction digits, as timestamptz stores microseconds).
 * - text columns: JSON strings as `JSON.stringify` writes them, or null.
 * - before and after: null for SQL null, else the jsonb value re-serialised with
 *   object keys sorted by UTF-16 code units (JavaScript's default sort), no
 *   whitespace, strings as `JSON.stringify` writes them and numbers exactly as
 *   Postgres prints them (`before::text`), so no digit is lost to a float.
 *
 * Both the sealer and `verify` read rows through `AUDIT_ROW_COLUMNS`, which
 * makes the database render every value as text the same way on Postgres and
 * PGlite, whatever the driver's type parsers or the session's time zone.
 */

export const AUDIT_FORMAT_VERSION = 1;

/** 32 zero bytes, the prev_hash of seq 1. */
export const GENESIS_HASH = Buffer.alloc(32);

/** One audit_log row as `AUDIT_ROW_COLUMNS` selects it: every value as text. */
export interface AuditRow {
  id: string;
  seq: string | null;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  before: string | null;
  after: string | null;
  reason: string | null;
  source: string;
  request_id: string | null;
  ip: string | null;
  outcome: string;
  /** Hex, or null while unsealed. */
  prev_hash: string | null;
  hash: string | null;
}

/**
 * The select list that yields an `AuditRow`. Its aliases shadow the columns in
 * ORDER BY, so order by `audit_log.seq` / `audit_log.id`, never a bare name.
 */
export const AUDIT_ROW_COLUMNS = `id::text as id, seq::text as seq,
  to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at,
  actor, action, target, before::text as before, after::text as after, reason, source, request_id, ip, outcome,
  encode(prev_hash, 'hex') as prev_hash, encode(hash, 'hex') as hash`;

const DIGITS = /^(0|[1-9][0-9]*)$/;

function integer(name: string, value: string | null): string {
  if (value === null || !DIGITS.test(value)) throw new Error(`audit entry ${name} ${JSON.stringify(value)} is not a whole number`);
  return value;
}

function text(value: string | null): string {
  return value === null ? 'null' : JSON.stringify(value);
}

/** The canonical encoding of `row`, sealed as `seq` (the row's own seq unless given). */
export function canonicalAuditEntry(row: AuditRow, seq: string | null = row.seq): string {
  return (
    `{"v":${AUDIT_FORMAT_VERSION},"seq":${integer('seq', seq)},"id":${integer('id', row.id)},"at":${text(row.at)},` +
    `"actor":${text(row.actor)},"action":${text(row.action)},"target":${text(row.target)},` +
    `"before":${row.before === null ? 'null' : canonicalJson(row.before)},"after":${row.after === null ? 'null' : canonicalJson(row.after)},` +
    `"reason":${text(row.reason)},"source":${text(row.source)},"request_id":${text(row.request_id)},"ip":${text(row.ip)},` +
    `"outcome":${text(row.outcome)}}`
  );
}

/** SHA-256(prev ‖ UTF-8(canonical)). */
export function chainHash(prevHash: Buffer, canonical: string): Buffer {
  return createHash('sha256').update(prevHash).update(canonical, 'utf8').digest();
}

/**
 * Re-serialises JSON text canonically: sorted object keys, no whitespace,
 * strings as JSON.stringify writes them, number literals kept verbatim.
 */
export function canonicalJson(source: string): string {
  const parser = new CanonicalParser(source);
  const value = parser.value();
  parser.end();
  return value;
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
// JSON forbids raw control characters inside strings, so the class must name them.
// eslint-disable-next-line no-control-regex
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const WHITESPACE = /[ \t\n\r]*/y;

class CanonicalParser {
  private at = 0;

  constructor(private readonly source: string) {}

  value(): string {
    this.skipWhitespace();
    const char = this.source[this.at];
    if (char === '{') return this.object();
    if (char === '[') return this.array();
    if (char === '"') return JSON.stringify(this.string());
    for (const word of ['true', 'false', 'null']) {
      if (this.source.startsWith(word, this.at)) {
        this.at += word.length;
        return word;
      }
    }
    return this.match(NUMBER, 'a JSON value');
  }

  end(): void {
    this.skipWhitespace();
    if (this.at !== this.source.length) this.fail('the end of the JSON text');
  }

  private object(): string {
    this.at++;
    const members: [string, string][] = [];
    this.skipWhitespace();
    if (this.source[this.at] === '}') {
      this.at++;
      return '{}';
    }
    for (;;) {
      this.skipWhitespace();
      const key = this.string();
      this.expect(':');
      members.push([key, this.value()]);
      if (this.next(',', '}') === '}') break;
    }
    // Postgres's jsonb has unique keys already; plain JSON text keeps the last, as jsonb does.
    const unique = new Map(members);
    const keys = [...unique.keys()].sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${unique.get(key)!}`).join(',')}}`;
  }

  private array(): string {
    this.at++;
    const items: string[] = [];
    this.skipWhitespace();
    if (this.source[this.at] === ']') {
      this.at++;
      return '[]';
    }
    for (;;) {
      items.push(this.value());
      if (this.next(',', ']') === ']') break;
    }
    return `[${items.join(',')}]`;
  }

  private string(): string {
    return JSON.parse(this.match(STRING, 'a JSON string')) as string;
  }

  private expect(char: string): void {
    this.skipWhitespace();
    if (this.source[this.at] !== char) this.fail(JSON.stringify(char));
    this.at++;
  }

  private next(separator: string, close: string): string {
    this.skipWhitespace();
    const char = this.source[this.at];
    if (char !== separator && char !== close) this.fail(`${JSON.stringify(separator)} or ${JSON.stringify(close)}`);
    this.at++;
    return char!;
  }

  private match(pattern: RegExp, what: string): string {
    pattern.lastIndex = this.at;
    const found = pattern.exec(this.source);
    if (!found || found[0] === '') this.fail(what);
    this.at += found![0].length;
    return found![0];
  }

  private skipWhitespace(): void {
    WHITESPACE.lastIndex = this.at;
    WHITESPACE.exec(this.source);
    this.at = WHITESPACE.lastIndex;
  }

  private fail(expected: string): never {
    throw new Error(`invalid JSON at offset ${this.at}: expected ${expected}`);
  }
}
