import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { pushExchanges, type PushExchange } from '../../fixtures/frames/zkpush/index.js';
import {
  formatCommandPoll,
  formatHandshake,
  formatUploadAccepted,
  isCommandText,
  parseAttlogBody,
  parseCommandResults,
  parseOperlogBody,
  parsePushQuery,
  type AttlogRecord,
  type PushQuery,
  type WallClock,
} from './codec.js';
import { identifiedEvent, identifyMethodOf, zkPushDeviceKey } from './events.js';
import { readsLegacyOptionNames } from './quirks.js';

const SERIAL = '0316144680030';
const queryOf = (exchange: PushExchange) => exchange.request.target.slice(exchange.request.target.indexOf('?') + 1);
const withMeaning = <K extends keyof PushExchange['meaning']>(key: K) => pushExchanges().filter((exchange) => exchange.meaning[key] !== undefined);
const timeText = (time: WallClock) =>
  `${time.year}-${String(time.month).padStart(2, '0')}-${String(time.day).padStart(2, '0')} ${[time.hour, time.minute, time.second].map((value) => String(value).padStart(2, '0')).join(':')}`;
const nonBlankLines = (body: string) => body.split(/\r\n|\n|\r/).filter((line) => line.trim() !== '').length;

describe('golden exchanges (fixtures/frames/zkpush)', () => {
  for (const exchange of withMeaning('query')) {
    test(`query of ${exchange.name}`, () => {
      const meaning = exchange.meaning.query!;
      const expected: PushQuery = {
        serial: meaning.serial,
        table: meaning.table,
        optionsRequested: meaning.optionsRequested ?? false,
        stamp: meaning.stamp,
        pushVersion: meaning.pushVersion,
        info: meaning.info,
      };
      assert.deepEqual(parsePushQuery(queryOf(exchange)), expected);
    });
  }

  for (const exchange of withMeaning('attlog')) {
    test(`records of ${exchange.name}`, () => {
      const { items, badLines } = parseAttlogBody(exchange.request.body!);
      assert.deepEqual(
        items.map((record) => ({ ...record, time: timeText(record.time) })),
        exchange.meaning.attlog!.records,
      );
      assert.deepEqual(
        badLines.map((bad) => ({ line: bad.line })),
        exchange.meaning.attlog!.badLines,
      );
      assert.equal(formatUploadAccepted(items.length + badLines.length), exchange.response!.body);
    });
  }

  for (const exchange of withMeaning('operlog')) {
    test(`entries of ${exchange.name}`, () => {
      const { items, badLines } = parseOperlogBody(exchange.request.body!);
      assert.deepEqual(items, exchange.meaning.operlog!.entries);
      assert.deepEqual(badLines, []);
      assert.equal(formatUploadAccepted(items.length), exchange.response!.body);
    });
  }

  for (const exchange of withMeaning('results')) {
    test(`results of ${exchange.name}`, () => {
      const { items, badLines } = parseCommandResults(exchange.request.body!);
      assert.deepEqual(items, exchange.meaning.results!.items);
      assert.deepEqual(
        badLines.map((bad) => ({ line: bad.line })),
        exchange.meaning.results!.badLines,
      );
    });
  }

  for (const exchange of withMeaning('handshake')) {
    test(`answer of ${exchange.name}`, () => {
      const settings = exchange.meaning.handshake!;
      const body = formatHandshake(SERIAL, {
        ...settings,
        attlogStamp: settings.attlogStamp ?? undefined,
        operlogStamp: settings.operlogStamp ?? undefined,
        timeZone: settings.timeZone ?? undefined,
      });
      assert.equal(body, exchange.response!.body);
    });
  }

  for (const exchange of withMeaning('commands')) {
    test(`answer of ${exchange.name}`, () => {
      assert.equal(formatCommandPoll(exchange.meaning.commands!), exchange.response!.body);
    });
  }
});

describe('query strings', () => {
  test('parameter names match in any case, and the first of a repeated name wins', () => {
    const query = parsePushQuery('sn=ABC123&TABLE=attlog&stamp=5&SN=OTHER');
    assert.equal(query.serial, 'ABC123');
    assert.equal(query.table, 'ATTLOG');
    assert.equal(query.stamp, '5');
  });

  test('an operation-log upload names its stamp OpStamp or OPERLOGStamp', () => {
    assert.equal(parsePushQuery('SN=A&table=OPERLOG&OpStamp=12').stamp, '12');
    assert.equal(parsePushQuery('SN=A&table=OPERLOG&OPERLOGStamp=13').stamp, '13');
    assert.equal(parsePushQuery('SN=A&table=ATTLOG&OpStamp=12').stamp, undefined);
  });

  test('an empty SN counts as no serial at all', () => {
    assert.equal(parsePushQuery('?SN=&options=all').serial, undefined);
  });

  test('firmware that sends no pushver gets the legacy option names', () => {
    assert.equal(readsLegacyOptionNames(undefined), true);
    assert.equal(readsLegacyOptionNames('2.2.14'), false);
  });
});

describe('commands', () => {
  test('command text must fit on one line', () => {
    assert.equal(isCommandText('DATA UPDATE USERINFO PIN=7\tName=Asha'), true);
    assert.equal(isCommandText('REBOOT\nC:9:CLEAR LOG'), false);
    assert.equal(isCommandText('REBOOT\r'), false);
    assert.equal(isCommandText('   '), false);
  });

  test('a poll with nothing queued is answered OK', () => {
    assert.equal(formatCommandPoll([]), 'OK');
  });
});

describe('attendance events', () => {
  const record: AttlogRecord = { line: 3, pin: '2025/CS 001', time: { year: 2025, month: 1, day: 6, hour: 9, minute: 0, second: 5 }, status: 1, verify: 4, workcode: '0', extra: ['0', '0'] };

  test('verify codes follow the PUSH manual: 1 fingerprint, 2 PIN, 3 password, 4 card, 15 face', () => {
    assert.deepEqual([1, 2, 3, 4, 15].map(identifyMethodOf), ['fingerprint', 'pin', 'password', 'card', 'face']);
    assert.deepEqual([7, 11, 18, 22].map(identifyMethodOf), ['card', 'card', 'face', 'fingerprint'], 'combined modes are named by their strongest factor');
    assert.deepEqual([0, 25, 200].map(identifyMethodOf), ['fingerprint', 'fingerprint', 'fingerprint'], 'codes without a single method fall back to fingerprint');
  });

  test('a record becomes an identified event with the device-local time', () => {
    assert.deepEqual(identifiedEvent('ABC123', record), {
      type: 'identified',
      subject: '2025/CS 001',
      method: 'card',
      deviceTime: new Date(2025, 0, 6, 9, 0, 5),
      deviceKey: 'zk-push/ABC123/2025%2FCS%20001/2025-01-06T09:00:05/4/1',
    });
  });

  test('the device key ignores where the record sat in the upload and what trails it, but not its status', () => {
    const key = zkPushDeviceKey('ABC123', record);
    assert.equal(zkPushDeviceKey('ABC123', { ...record, line: 40, workcode: '', extra: ['1', '36.5'] }), key);
    assert.notEqual(zkPushDeviceKey('ABC123', { ...record, status: 0 }), key);
    assert.notEqual(zkPushDeviceKey('ABC124', record), key);
  });

  test('years below 100 are not read as 19xx', () => {
    assert.equal(identifiedEvent('A', { ...record, time: { ...record.time, year: 99 } }).deviceTime!.getFullYear(), 99);
  });
});

describe('properties', () => {
  const bodyText = fc.string({ unit: fc.constantFrom('\t', '\r', '\n', ' ', '=', '&', ':', '-', 'ID', 'Return', 'C', '1', '9', 'x', 'é', '\u0000'), maxLength: 400 });
  const anyText = fc.oneof(bodyText, fc.string({ unit: 'binary', maxLength: 400 }));

  test('no body makes a parser throw, and every non-blank line is either read or reported', () => {
    fc.assert(
      fc.property(anyText, (body) => {
        for (const parse of [parseAttlogBody, parseOperlogBody, parseCommandResults] as const) {
          const { items, badLines } = parse(body);
          assert.ok(items.length + badLines.length <= nonBlankLines(body));
          if (parse !== parseCommandResults) assert.equal(items.length + badLines.length, nonBlankLines(body));
          for (const bad of badLines) assert.ok(bad.line >= 1 && bad.bytes > 0);
        }
        parsePushQuery(body);
      }),
      { numRuns: 500 },
    );
  });

  const column = fc.stringMatching(/^[A-Za-z0-9.+-]{0,8}$/);
  const wallClock: fc.Arbitrary<WallClock> = fc.record({
    year: fc.integer({ min: 2000, max: 2099 }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 28 }),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.integer({ min: 0, max: 59 }),
    second: fc.integer({ min: 0, max: 59 }),
  }, { noNullPrototype: true });
  const record = fc.record({
    pin: fc.stringMatching(/^[A-Za-z0-9]{1,24}$/),
    time: wallClock,
    status: fc.integer({ min: 0, max: 255 }),
    verify: fc.integer({ min: 0, max: 255 }),
    workcode: column,
    extra: fc.array(column, { maxLength: 8 }),
  }, { noNullPrototype: true });

  test('records written as ATTLOG lines read back as the same records, whatever the line ends', () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 20 }), fc.constantFrom('\n', '\r\n', '\r'), fc.nat({ max: 3 }), (records, end, trailingBlank) => {
        // Without a work code or extra columns a line may stop after Verify.
        const line = (r: (typeof records)[number]) => [r.pin, timeText(r.time), r.status, r.verify, ...(r.workcode === '' && r.extra.length === 0 ? [] : [r.workcode, ...r.extra])].join('\t');
        const body = records.map(line).join(end) + end.repeat(trailingBlank + 1);
        const { items, badLines } = parseAttlogBody(body);
        assert.deepEqual(badLines, []);
        assert.deepEqual(
          items.map(({ line: _line, ...fields }) => fields),
          records,
        );
        assert.deepEqual(
          items.map((item) => item.line),
          records.map((_, index) => index + 1),
        );
      }),
      { numRuns: 300 },
    );
  });

  test('a large body is parsed in bounded time', () => {
    const body = Array.from({ length: 20_000 }, (_, index) => `${index}\t2024-03-01 09:00:00\t0\t1\t0\t0\t0`).join('\n') + '\n' + '\x00'.repeat(100_000);
    const started = performance.now();
    const { items, badLines } = parseAttlogBody(body);
    assert.equal(items.length, 20_000);
    assert.deepEqual(
      badLines.map((bad) => [bad.line, bad.bytes]),
      [[20_001, 100_000]],
    );
    assert.ok(performance.now() - started < 5_000);
  });
});
