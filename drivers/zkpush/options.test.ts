import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TransportUrlError } from '../core/transportUrl.js';
import { ZK_PUSH_DEFAULTS, parseZkPushUrl } from './options.js';

test('a URL with only serials takes every default', () => {
  assert.deepEqual(parseZkPushUrl('http://0.0.0.0:8081?serials=ABC123,DEF456'), {
    host: '0.0.0.0',
    port: 8081,
    serials: ['ABC123', 'DEF456'],
    timeZone: undefined,
    ...ZK_PUSH_DEFAULTS,
  });
});

test('every option is read with its unit', () => {
  const options = parseZkPushUrl('http://[::1]:0?serials=A&delay=5&errorDelay=60&realtime=0&transInterval=0&timeZone=-300&maxBody=2048&requestTimeout=5000&commandTimeout=60000');
  assert.deepEqual(options, {
    host: '::1',
    port: 0,
    serials: ['A'],
    delaySeconds: 5,
    errorDelaySeconds: 60,
    realtime: false,
    transIntervalMinutes: 0,
    timeZone: -300,
    maxBodyBytes: 2048,
    requestTimeoutMs: 5000,
    commandTimeoutMs: 60000,
  });
});

test('an http URL without a port listens on 80, and repeated serials count once', () => {
  const options = parseZkPushUrl('http://10.0.0.5?serials=A, B,A,');
  assert.equal(options.port, 80);
  assert.deepEqual(options.serials, ['A', 'B']);
});

test('each bad URL is refused with what is wrong', () => {
  const refusals: [string, RegExp][] = [
    ['http://0.0.0.0:8081', /serials is required/],
    ['http://0.0.0.0:8081?serials=', /serials is required/],
    ['http://0.0.0.0:8081?serials=AB%20C', /"AB C" is not a serial number/],
    ['https://0.0.0.0:8081?serials=A', /plain http/],
    ['http://0.0.0.0:8081/iclock?serials=A', /only host, port and options/],
    ['http://0.0.0.0:8081?serials=A&dealy=5', /unknown option dealy/],
    ['http://0.0.0.0:8081?serials=A&delay=0', /delay=.*1 to 600/],
    ['http://0.0.0.0:8081?serials=A&maxBody=100', /maxBody=.*1024/],
    ['http://0.0.0.0:8081?serials=A&timeZone=5.5', /timeZone=.*minutes/],
    ['http://0.0.0.0:8081?serials=A&timeZone=900', /timeZone=/],
    ['not a url', /not a push receiver URL/],
  ];
  for (const [url, message] of refusals) {
    assert.throws(() => parseZkPushUrl(url), (error: Error) => error instanceof TransportUrlError && message.test(error.message), url);
  }
});
