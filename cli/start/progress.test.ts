import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createProgressBar, renderProgress } from './progress.js';

function recorder(isTTY: boolean) {
  const writes: string[] = [];
  return { stream: { isTTY, write: (text: string) => writes.push(text) }, writes };
}

test('renderProgress draws the bar, counts, percentage and elapsed seconds', () => {
  assert.equal(renderProgress(1234, 5000, 3140), '[####................] 1234/5000 24% 3.1s');
  assert.equal(renderProgress(0, 0, 0, 10), '[##########] 0/0 100% 0.0s');
  assert.equal(renderProgress(5, 10, 12_000, 10), '[#####.....] 5/10 50% 12.0s');
});

test('on a terminal the bar redraws in place at most every 100 ms and ends with a newline', () => {
  const { stream, writes } = recorder(true);
  let now = 0;
  const bar = createProgressBar(100, { stream, now: () => now, width: 10 });
  bar.update(10);
  now = 50;
  bar.update(20); // too soon: skipped
  now = 150;
  bar.update(30);
  now = 3100;
  bar.update(100);
  bar.finish();
  assert.deepEqual(writes, [
    '\r[#.........] 10/100 10% 0.0s\x1b[K',
    '\r[###.......] 30/100 30% 0.1s\x1b[K',
    '\r[##########] 100/100 100% 3.1s\x1b[K',
    '\r[##########] 100/100 100% 3.1s\x1b[K',
    '\n',
  ]);
});

test('elsewhere it prints plain lines per 10 % step or per interval, and one final line', () => {
  const { stream, writes } = recorder(false);
  let now = 0;
  const bar = createProgressBar(1000, { stream, now: () => now, label: 'job', width: 4, intervalMs: 5000 });
  for (let done = 1; done <= 250; done++) bar.update(done);
  now = 6000;
  bar.update(260); // same step, but the interval passed
  bar.update(999);
  bar.update(1000, 1200); // the total grew
  bar.finish();
  assert.deepEqual(writes, [
    'job [....] 1/1000 0% 0.0s\n',
    'job [....] 100/1000 10% 0.0s\n',
    'job [....] 200/1000 20% 0.0s\n',
    'job [#...] 260/1000 26% 6.0s\n',
    'job [###.] 999/1000 99% 6.0s\n',
    'job [###.] 1000/1200 83% 6.0s\n',
  ]);
  assert.ok(writes.every((line) => !line.includes('\r')));
});
