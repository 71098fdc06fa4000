import { execFile } from 'node:child_process';
import type { Logger } from 'pino';

/**
 * systemd integration for `Type=notify` with `WatchdogSec=` (deploy/systemd):
 * READY=1 once the agent serves, then WATCHDOG=1 at half the watchdog
 * interval for as long as `alive()` holds, so systemd restarts an agent whose
 * event loop or outbox is stuck. Node cannot write to the notify socket (a
 * Unix datagram socket) itself, so it runs `systemd-notify`, which the unit
 * allows with NotifyAccess=all. Outside systemd (no NOTIFY_SOCKET) it does nothing.
 */
export function startSystemdNotifier(alive: () => boolean, logger: Logger, env: NodeJS.ProcessEnv = process.env): () => void {
  if (!env.NOTIFY_SOCKET) return () => {};
  const log = logger.child({ ns: 'agent:systemd' });
  const notify = (...states: string[]) =>
    execFile('systemd-notify', states, (error) => {
      if (error) log.warn({ err: error.message, states }, 'systemd-notify failed');
    });
  notify('--ready', `--pid=${process.pid}`);
  const watchdogUsec = Number(env.WATCHDOG_USEC ?? 0);
  if (!(watchdogUsec > 0)) return () => {};
  const timer = setInterval(() => {
    if (alive()) notify(`--pid=${process.pid}`, 'WATCHDOG=1');
    else log.error('the agent is not healthy; leaving the systemd watchdog to restart it');
  }, watchdogUsec / 1000 / 2);
  return () => clearInterval(timer);
}
