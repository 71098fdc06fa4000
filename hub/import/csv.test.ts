import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { toCsv } from '../../fixtures/generate.js';
import { CsvSyntaxError, parseCsv } from './csv.js';

const rows = (text: string) => {
  const { header, records } = parseCsv(text);
  return [header, ...records.map((record) => record.cells)];
};

test('golden cases: quotes, escaped quotes, embedded newlines, CRLF, BOM, empty fields, trailing newline', () => {
  assert.deepEqual(rows('a,b\n1,2\n'), [['a', 'b'], ['1', '2']]);
  assert.deepEqual(rows('a,b\r\n1,2\r\n3,4'), [['a', 'b'], ['1', '2'], ['3', '4']]);
  assert.deepEqual(rows('\uFEFFroll_no,name\r\nCS1,"Iyer, Diya"\r\n'), [['roll_no', 'name'], ['CS1', 'Iyer, Diya']]);
  assert.deepEqual(rows('a\n"say ""hi"""\n'), [['a'], ['say "hi"']]);
  assert.deepEqual(rows('a,b\n"line one\r\nline two",x\n'), [['a', 'b'], ['line one\r\nline two', 'x']]);
  assert.deepEqual(rows('a,b,c\n,,\n'), [['a', 'b', 'c'], ['', '', '']]);
  assert.deepEqual(rows('a,b\n"",""\n'), [['a', 'b'], ['', '']]);
  assert.deepEqual(rows('a\n1\n\n2\n\n'), [['a'], ['1'], ['2']], 'blank lines are skipped');
  assert.deepEqual(rows('a\rb\r'), [['a'], ['b']], 'a lone CR ends a record too');
  assert.deepEqual(rows(''), [[]]);
  assert.deepEqual(rows('name\nअनन्या\n'), [['name'], ['अनन्या']]);
});

test('data rows are numbered from 1 after the header, counting records, not lines', () => {
  const { records } = parseCsv('a,b\n"x\ny",1\nz,2\n');
  assert.deepEqual(records.map((record) => record.row), [1, 2]);
});

test('malformed CSV names the data row and the field', () => {
  const cases: [string, number, number, RegExp][] = [
    ['a,b\n1,2\n3,"unclosed\n', 2, 2, /not closed/],
    ['a,b\n1,x"y\n', 1, 2, /quote inside an unquoted field/],
    ['a,b\n"x"y,2\n', 1, 1, /after a closing quote/],
  ];
  for (const [text, row, field, reason] of cases) {
    assert.throws(() => parseCsv(text), (error: unknown) => error instanceof CsvSyntaxError && error.row === row && error.field === field && reason.test(error.message), text);
  }
});

const cell = fc.string({ unit: fc.constantFrom('a', 'b', ',', '"', '\n', '\r', ' ', 'é', 'क', '\r\n') });
const table = fc.integer({ min: 1, max: 5 }).chain((width) =>
  fc.tuple(fc.array(fc.string({ minLength: 1, maxLength: 8, unit: fc.constantFrom('a', 'b', '_') }), { minLength: width, maxLength: width }), fc.array(fc.array(cell, { minLength: width, maxLength: width }), { maxLength: 20 })),
);

test('property: what the fixtures\' CSV writer writes, the parser reads back (except rows that are all empty in a one-column file)', () => {
  fc.assert(
    fc.property(table, ([header, data]) => {
      const columns = header.map((name, index) => `${name}${index}`);
      const records = data.filter((cells) => !(cells.length === 1 && cells[0] === ''));
      const text = toCsv(columns, records.map((cells) => Object.fromEntries(columns.map((column, index) => [column, cells[index]!]))));
      assert.deepEqual(rows(text), [columns, ...records]);
      assert.deepEqual(rows(`\uFEFF${text.replaceAll('\r\n', '\n')}`).length, records.length + 1, 'a BOM and LF line ends change nothing but the ends');
    }),
  );
});

test('property: any text either parses into records or fails with a CsvSyntaxError, never anything else', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', '\uFEFF') }), (text) => {
      try {
        const { header, records } = parseCsv(text);
        assert.ok(Array.isArray(header));
        for (const record of records) assert.ok(record.cells.every((value) => typeof value === 'string'));
      } catch (error) {
        assert.ok(error instanceof CsvSyntaxError, String(error));
      }
    }),
  );
});
