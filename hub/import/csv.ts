/**
 * An RFC 4180 CSV reader: comma-separated fields, records ending in CRLF or
 * LF, fields in double quotes may hold commas, line breaks and doubled
 * quotes (""). A UTF-8 byte order mark at the start is dropped; so are
 * empty lines, which spreadsheets leave at the end.
 */

export interface CsvRecord {
  /** 1-based number of the record among the data records (the header is not counted). */
  row: number;
  cells: string[];
}

export interface CsvTable {
  header: string[];
  records: CsvRecord[];
}

export class CsvSyntaxError extends Error {
  constructor(
    /** 1-based data row (0 for the header). */
    readonly row: number,
    /** 1-based field number within the record. */
    readonly field: number,
    reason: string,
  ) {
    super(reason);
  }
}

/** Splits CSV text into records of fields; the first record is the header. */
export function parseCsv(input: string): CsvTable {
  const text = input.startsWith('\uFEFF') ? input.slice(1) : input;
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let wasQuoted = false;
  let index = 0;
  const rowNumber = () => records.length;
  const endField = () => {
    record.push(field);
    field = '';
    wasQuoted = false;
  };
  const endRecord = () => {
    const empty = record.length === 0 && field === '' && !wasQuoted;
    endField();
    if (!empty) records.push(record);
    record = [];
  };
  while (index < text.length) {
    const char = text[index]!;
    if (quoted) {
      if (char === '"') {
        if (text[index + 1] === '"') {
          field += '"';
          index += 2;
          continue;
        }
        quoted = false;
        const next = text[index + 1];
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
          throw new CsvSyntaxError(rowNumber(), record.length + 1, 'text after a closing quote; a quote inside a quoted field is written twice ("")');
        }
      } else {
        field += char;
      }
      index++;
      continue;
    }
    if (char === '"') {
      if (field !== '') throw new CsvSyntaxError(rowNumber(), record.length + 1, 'a quote inside an unquoted field; quote the whole field and double the quote ("")');
      quoted = true;
      wasQuoted = true;
    } else if (char === ',') {
      endField();
    } else if (char === '\n') {
      endRecord();
    } else if (char === '\r') {
      if (text[index + 1] === '\n') index++;
      endRecord();
    } else {
      field += char;
    }
    index++;
  }
  if (quoted) throw new CsvSyntaxError(rowNumber(), record.length + 1, 'a quoted field is not closed before the end of the file');
  endRecord();
  const [header, ...data] = records;
  return { header: header ?? [], records: data.map((cells, position) => ({ row: position + 1, cells })) };
}
