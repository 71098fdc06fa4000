import type { Queryable } from '../db/db.js';

export interface DeviceView {
  campusId: string;
  deviceId: string;
  kind: string;
  name: string | null;
  serial: string | null;
  agentId: string | null;
  status: 'active' | 'retired';
  registeredBy: string;
  registeredAt: Date;
  roomId: string | null;
  /** The device as its agent last reported it in its health (state, last seen, link statistics). */
  live: Record<string, unknown> | null;
  liveAt: Date | null;
  /** Every event up to this time has been delivered (the agent's sync watermark). */
  watermark: Date | null;
}

const DEVICE_SELECT = `
  select d.campus_id as "campusId", d.device_id as "deviceId", d.kind, d.name, d.serial, d.agent_id as "agentId", d.status,
         d.registered_by as "registeredBy", d.registered_at as "registeredAt", rd.room_id as "roomId",
         (select h.value from agents a, jsonb_array_elements(a.health -> 'devices') h
           where a.campus_id = d.campus_id and (d.agent_id is null or a.agent_id = d.agent_id) and h.value ->> 'id' = d.device_id
           order by a.health_at desc nulls last limit 1) as live,
         (select a.health_at from agents a, jsonb_array_elements(a.health -> 'devices') h
           where a.campus_id = d.campus_id and (d.agent_id is null or a.agent_id = d.agent_id) and h.value ->> 'id' = d.device_id
           order by a.health_at desc nulls last limit 1) as "liveAt",
         w.up_to as watermark
    from devices d
    left join room_devices rd on rd.campus_id = d.campus_id and rd.device_id = d.device_id
    left join device_watermarks w on w.campus_id = d.campus_id and w.device_id = d.device_id`;

export async function listDevices(q: Queryable, campusId?: string): Promise<DeviceView[]> {
  const { rows } = await q.query<DeviceView>(`${DEVICE_SELECT} where ($1::text is null or d.campus_id = $1) order by d.campus_id, d.device_id`, [campusId ?? null]);
  return rows;
}

export async function findDevice(q: Queryable, campusId: string, deviceId: string): Promise<DeviceView | undefined> {
  const { rows } = await q.query<DeviceView>(`${DEVICE_SELECT} where d.campus_id = $1 and d.device_id = $2`, [campusId, deviceId]);
  return rows[0];
}

export interface NewDevice {
  campusId: string;
  deviceId: string;
  kind: string;
  name: string | null;
  serial: string | null;
  agentId: string | null;
}

/** False when the device is registered already. */
export async function insertDevice(q: Queryable, device: NewDevice, by: string, at: Date): Promise<boolean> {
  const { rowCount } = await q.query(
    `insert into devices (campus_id, device_id, kind, name, serial, agent_id, registered_by, registered_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $8) on conflict do nothing`,
    [device.campusId, device.deviceId, device.kind, device.name, device.serial, device.agentId, by, at],
  );
  return rowCount > 0;
}

/** Puts the device in `roomId` (out of any other room), or in none. */
export async function assignRoom(q: Queryable, campusId: string, deviceId: string, roomId: string | null, at: Date): Promise<void> {
  await q.query('delete from room_devices where campus_id = $1 and device_id = $2', [campusId, deviceId]);
  if (roomId) await q.query('insert into room_devices (campus_id, device_id, room_id) values ($1, $2, $3)', [campusId, deviceId, roomId]);
  await q.query('update devices set updated_at = $3 where campus_id = $1 and device_id = $2', [campusId, deviceId, at]);
}

export async function roomCampus(q: Queryable, roomId: string): Promise<string | undefined> {
  const { rows } = await q.query<{ campus_id: string }>('select campus_id from rooms where id = $1', [roomId]);
  return rows[0]?.campus_id;
}
