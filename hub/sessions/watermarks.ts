import type { Logger } from 'pino';
import { agentApiValidators, decode, type AgentAddress } from '../../protocol/index.js';
import type { Db } from '../db/db.js';
import type { HubMetrics } from '../metrics/metrics.js';

export interface WatermarkHandlerOptions {
  db: Db;
  metrics: HubMetrics;
  logger: Logger;
  now: () => number;
}

/**
 * Stores the delivery watermarks an agent reports on its `sync` channel. The
 * campus is the topic's, never the payload's. A watermark only moves forward
 * (`greatest`), so a late or replayed message cannot undo one; one ahead of the
 * hub's clock is held to the hub's clock, so a fast agent clock cannot finalize
 * sessions before their taps could have arrived.
 */
export function createWatermarkHandler({ db, metrics, logger, now }: WatermarkHandlerOptions): (address: AgentAddress, payload: Buffer) => Promise<void> {
  const log = logger.child({ ns: 'hub:watermarks' });
  return async (address, payload) => {
    const decoded = decode(payload, agentApiValidators.sync);
    if (!decoded.ok) {
      metrics.rejectedMessages.inc({ reason: decoded.error.code });
      log.warn({ ...address, reason: decoded.error.message }, 'refused a sync message');
      return;
    }
    const reportedAt = now();
    await db.transaction(async (tx) => {
      for (const device of decoded.value.devices) {
        const upTo = new Date(Math.min(Date.parse(device.upTo), reportedAt));
        await tx.query(
          `insert into device_watermarks (campus_id, device_id, up_to, reported_at) values ($1, $2, $3, $4)
           on conflict (campus_id, device_id) do update
             set up_to = greatest(device_watermarks.up_to, excluded.up_to), reported_at = excluded.reported_at`,
          [address.campusId, device.deviceId, upTo, new Date(reportedAt)],
        );
      }
    });
  };
}
