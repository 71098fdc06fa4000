import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTransportUrl, TransportUrlError } from '../core/transportUrl.js';
import { parseZkUrl } from './options.js';

const parse = (url: string) => parseZkUrl(parseTransportUrl(url));

describe('ZK driver URL options', () => {
  it('gives every option its documented default', () => {
    assert.deepEqual(parse('tcp://10.0.0.5:4370'), {
      target: { transport: 'tcp', host: '10.0.0.5', port: 4370 },
      options: {
        commKey: 0,
        timeoutMs: 3000,
        attempts: 3,
        connectTimeoutMs: 5000,
        chunkSize: 65_472,
        uploadChunkSize: 1024,
        realtime: true,
        probeMs: 30_000,
        reconnectMinMs: 500,
        reconnectMaxMs: 30_000,
        readyWaitMs: 15_000,
      },
    });
  });

  it('reads the chunk-size default per transport, 16 KiB over UDP', () => {
    assert.equal(parse('udp://10.0.0.5:4370').options.chunkSize, 16_384);
    assert.equal(parse('udp://10.0.0.5:4370').target.transport, 'udp');
  });

  it('reads every option from the query', () => {
    const { options } = parse('tcp://h:1?commKey=45&timeoutMs=250&attempts=5&connectTimeoutMs=900&chunkSize=4096&uploadChunkSize=512&realtime=0&probeMs=0&reconnectMinMs=20&reconnectMaxMs=200&readyWaitMs=0');
    assert.deepEqual(options, {
      commKey: 45,
      timeoutMs: 250,
      attempts: 5,
      connectTimeoutMs: 900,
      chunkSize: 4096,
      uploadChunkSize: 512,
      realtime: false,
      probeMs: 0,
      reconnectMinMs: 20,
      reconnectMaxMs: 200,
      readyWaitMs: 0,
    });
  });

  it('refuses values outside their documented ranges, naming the option', () => {
    const cases: [query: string, option: string][] = [
      ['commKey=1000000', 'commKey'],
      ['timeoutMs=10', 'timeoutMs'],
      ['timeoutMs=1e3', 'timeoutMs'],
      ['attempts=0', 'attempts'],
      ['attempts=11', 'attempts'],
      ['chunkSize=70000', 'chunkSize'],
      ['probeMs=500', 'probeMs'],
      ['realtime=maybe', 'realtime'],
      ['reconnectMinMs=5000&reconnectMaxMs=1000', 'reconnectMaxMs'],
    ];
    for (const [query, option] of cases) {
      assert.throws(() => parse(`tcp://h:1?${query}`), (error: unknown) => error instanceof TransportUrlError && error.message.includes(option), query);
    }
  });

  it('refuses options it does not know, so a typo fails at start-up', () => {
    assert.throws(() => parse('tcp://h:1?comKey=45'), /unknown ZK option comKey/);
  });

  it('refuses transports a ZK terminal is not reached over', () => {
    assert.throws(() => parse('serial:///dev/ttyUSB0'), TransportUrlError);
  });
});
