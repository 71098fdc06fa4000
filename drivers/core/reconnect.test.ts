import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { ConnectionState } from './driver.js';
import type { ByteLink, ByteLinkEvents } from './link.js';
import { LinkStatsRecorder } from './linkStats.js';
import { LinkSupervisor, fullJitterDelay, type LinkSupervisorOptions } from './reconnect.js';
import { ManualTimers } from '../../test/support/manualTimers.js';

class FakeLink extends EventEmitter<ByteLinkEvents> implements ByteLink {
  closedByUs = false;
  constructor(readonly description: string) {
    super();
  }
  async write(): Promise<void> {}
  async close(): Promise<void> {
    this.closedByUs = true;
    this.emit('close');
  }
  /** The device went away. */
  drop(reason = 'connection reset'): void {
    this.emit('close', new Error(reason));
  }
}

/** A link factory whose outcomes the test scripts: a link, or an error, per call. */
function scriptedFactory() {
  const links: FakeLink[] = [];
  let failWith: string | undefined;
  return {
    links,
    failNextOpens(reason: string | undefined) {
      failWith = reason;
    },
    factory: async (): Promise<ByteLink> => {
      if (failWith) throw new Error(failWith);
      const link = new FakeLink(`fake://${links.length + 1}`);
      links.push(link);
      return link;
    },
  };
}

function harness(overrides: Partial<LinkSupervisorOptions> = {}) {
  const timers = new ManualTimers();
  const script = scriptedFactory();
  const stats = new LinkStatsRecorder();
  const attached: ByteLink[] = [];
  const states: Array<[ConnectionState, string | undefined]> = [];
  const supervisor = new LinkSupervisor({
    factory: script.factory,
    attach: (link) => attached.push(link),
    stats,
    timers,
    random: () => 0.5,
    ...overrides,
  });
  supervisor.on('state', (state, reason) => states.push([state, reason]));
  /** Fires the pending retry and waits for the state it leads to. */
  const retry = async () => {
    const next = once(supervisor, 'state', { signal: AbortSignal.timeout(10_000) });
    timers.fireNext();
    return ((await next) as [ConnectionState, string?])[0];
  };
  return { supervisor, timers, script, stats, attached, states, retry };
}

describe('full-jitter backoff delays', () => {
  test('the upper bound doubles from the base each attempt and stops at the cap', () => {
    const almostOne = () => 1 - Number.EPSILON;
    const bounds = Array.from({ length: 8 }, (_, attempt) => Math.round(fullJitterDelay(attempt, 1_000, 30_000, almostOne)));
    assert.deepEqual(bounds, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  test('the delay is the random fraction of the bound, so random 0 retries at once', () => {
    assert.equal(fullJitterDelay(3, 1_000, 30_000, () => 0), 0);
    assert.equal(fullJitterDelay(3, 1_000, 30_000, () => 0.25), 2_000);
  });

  test('the defaults are a 1 s base and a 30 s cap', () => {
    assert.equal(fullJitterDelay(0, undefined, undefined, () => 0.5), 500);
    assert.equal(fullJitterDelay(20, undefined, undefined, () => 0.5), 15_000);
  });

  test('a very high attempt number still gives a finite delay within the cap', () => {
    assert.equal(fullJitterDelay(5_000, 1_000, 30_000, () => 0.5), 15_000);
  });

  test('a negative or fractional attempt number is refused', () => {
    assert.throws(() => fullJitterDelay(-1), RangeError);
    assert.throws(() => fullJitterDelay(1.5), RangeError);
  });

  test('every delay lies in [0, min(cap, base · 2^attempt))', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 200 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 0, max: 3_600_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, baseMs, extra, fraction) => {
          const capMs = baseMs + extra;
          const delay = fullJitterDelay(attempt, baseMs, capMs, () => fraction);
          assert.ok(delay >= 0 && delay < Math.min(capMs, baseMs * 2 ** attempt) + 1e-9 && Number.isFinite(delay));
        },
      ),
    );
  });
});

describe('link supervisor', () => {
  test('opening attaches the link and reports opening, then ready', async () => {
    const { supervisor, attached, states, script } = harness();
    await supervisor.start();
    assert.deepEqual(states, [
      ['opening', undefined],
      ['ready', undefined],
    ]);
    assert.deepEqual(attached, script.links);
    assert.equal(supervisor.state, 'ready');
  });

  test('a dropped link is reopened after a jittered delay and counted as a reconnect', async () => {
    const { supervisor, timers, script, stats, attached, states, retry } = harness();
    await supervisor.start();
    script.links[0]!.drop('peer reset');
    assert.deepEqual(states.at(-1), ['reopening', 'peer reset']);
    assert.deepEqual(timers.requested, [500]);
    assert.equal(await retry(), 'ready');
    assert.equal(attached.length, 2);
    assert.equal(stats.snapshot().reconnects, 1);
  });

  test('an unreachable device does not fail start; the supervisor keeps retrying with growing delays', async () => {
    const { supervisor, timers, script, stats, retry } = harness();
    script.failNextOpens('ECONNREFUSED');
    await supervisor.start();
    assert.equal(supervisor.state, 'reopening');
    for (let attempt = 0; attempt < 6; attempt++) assert.equal(await retry(), 'reopening');
    assert.deepEqual(timers.requested, [500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000]);
    script.failNextOpens(undefined);
    assert.equal(await retry(), 'ready');
    assert.equal(stats.snapshot().reconnects, 0, 'the first successful open is not a reconnect');
  });

  test('the backoff starts again from the base once a link has stayed up long enough', async () => {
    const { supervisor, timers, script, retry } = harness({ stableAfterMs: 10_000 });
    script.failNextOpens('ECONNREFUSED');
    await supervisor.start();
    await retry();
    script.failNextOpens(undefined);
    await retry();
    timers.pass(10_000);
    script.links[0]!.drop();
    assert.deepEqual(timers.requested, [500, 1_000, 500]);
  });

  test('a link that drops at once keeps the backoff growing, so a flapping peer is not redialled in a tight loop', async () => {
    const { supervisor, timers, script, retry } = harness({ stableAfterMs: 10_000 });
    await supervisor.start();
    script.links[0]!.drop();
    await retry();
    script.links[1]!.drop();
    await retry();
    script.links[2]!.drop();
    assert.deepEqual(timers.requested, [500, 1_000, 2_000]);
  });

  test('after maxRetries failed retries the supervisor gives up with state failed and schedules nothing more', async () => {
    const { supervisor, timers, script, states, retry } = harness({ maxRetries: 2 });
    script.failNextOpens('ENOENT');
    await supervisor.start();
    await retry();
    assert.equal(await retry(), 'failed');
    assert.match(states.at(-1)![1]!, /gave up after 2 retries: ENOENT/);
    assert.equal(timers.scheduled, 0);
  });

  test('stop closes the link without reopening it', async () => {
    const { supervisor, timers, script, states } = harness();
    await supervisor.start();
    await supervisor.stop();
    assert.equal(script.links[0]!.closedByUs, true);
    assert.equal(timers.scheduled, 0);
    assert.deepEqual(states.at(-1), ['closed', undefined]);
  });

  test('stop cancels a pending retry', async () => {
    const { supervisor, timers, script } = harness();
    await supervisor.start();
    script.links[0]!.drop();
    assert.equal(timers.scheduled, 1);
    await supervisor.stop();
    assert.equal(timers.scheduled, 0);
    assert.equal(supervisor.state, 'closed');
  });

  test('a link that finishes opening after stop is closed at once and never attached', async () => {
    let release: (link: ByteLink) => void = () => {};
    const late = new FakeLink('fake://late');
    const attached: ByteLink[] = [];
    const supervisor = new LinkSupervisor({
      factory: () => new Promise((resolve) => (release = resolve)),
      attach: (link) => attached.push(link),
      stats: new LinkStatsRecorder(),
      timers: new ManualTimers(),
    });
    const started = supervisor.start();
    const stopped = supervisor.stop();
    release(late);
    await Promise.all([started, stopped]);
    assert.equal(late.closedByUs, true);
    assert.deepEqual(attached, []);
    assert.equal(supervisor.state, 'closed');
  });

  test('options outside their documented ranges are refused', () => {
    const base = { factory: scriptedFactory().factory, attach: () => {}, stats: new LinkStatsRecorder() };
    assert.throws(() => new LinkSupervisor({ ...base, baseMs: 0 }), RangeError);
    assert.throws(() => new LinkSupervisor({ ...base, baseMs: 5_000, capMs: 1_000 }), RangeError);
    assert.throws(() => new LinkSupervisor({ ...base, maxRetries: 0 }), RangeError);
  });
});
