import { createHmac, createPrivateKey, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  EnvelopeError,
  decodeEnvelope,
  encodeEnvelope,
  openEnvelope,
  recipientKeyId,
  recipientUnwrapper,
  templateContext,
  type KeyWrap,
  type TemplateDelivery,
} from '../../protocol/index.js';

type Delivery = TemplateDelivery;

/** What the vault knows of a template besides its bytes. */
export interface VaultEntry {
  templateId: string;
  studentId: string;
  deviceUserId: string | null;
  finger: number;
  format: string;
}

export type DeviceTemplateState = 'present' | 'removed' | 'failed';

export interface DeviceTemplateStatus {
  templateId: string;
  deviceId: string;
  state: DeviceTemplateState;
  detail?: string;
}

export type VaultErrorCode = 'wrong_key' | 'tampered' | 'malformed' | 'unknown_template';

/** A template the vault refuses or cannot open. Messages never carry template bytes or key material. */
export class VaultError extends Error {
  override readonly name = 'VaultError';
  constructor(
    readonly code: VaultErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface VaultIntegrity {
  /** SQLite's `PRAGMA integrity_check`: `ok` or what is wrong. */
  sqlite: string;
  templates: number;
  /** Templates that no longer open with this agent's key: altered, or sealed for a key this agent no longer has. */
  unreadable: { templateId: string; code: VaultErrorCode; message: string }[];
}

interface TemplateRow {
  template_id: string;
  student_id: string;
  device_user_id: string | null;
  finger: number;
  format: string;
  envelope: Buffer;
  mac: Buffer;
}

const entryOf = (row: Omit<TemplateRow, 'envelope'>): VaultEntry => ({
  templateId: row.template_id,
  studentId: row.student_id,
  deviceUserId: row.device_user_id,
  finger: row.finger,
  format: row.format,
});

/**
 * The agent's template vault: `vault.sqlite` beside the outbox. Templates are
 * kept only as the hub sent them, envelopes whose data key is wrapped for this
 * agent's RSA key (the identity key, agent/identity.ts) and whose payload AAD
 * binds them to student, finger, template id and format. A template is opened
 * only in memory, at the moment it goes to a device. The vault also records,
 * per device, whether each template is there and, for fingerprint modules, in
 * which library slot.
 */
export class TemplateVault {
  readonly path: string;
  private readonly db: Database.Database;
  private privateKey!: KeyObject;
  private keyId!: string;
  private macKey!: Buffer;

  constructor(dataDir: string, privateKeyPem: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, 'vault.sqlite');
    this.useKey(privateKeyPem);
    this.db = new Database(this.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    // Deleted templates' pages are overwritten, not left in the free list.
    this.db.pragma('secure_delete = ON');
    this.db.exec(`
      create table if not exists templates (
        template_id     text primary key,
        student_id      text not null,
        device_user_id  text,
        finger          integer not null,
        format          text not null,
        envelope        blob not null,
        -- HMAC of the row under a key derived from the agent's key: the start-up check, without an RSA operation per template.
        mac             blob not null,
        received_at     text not null
      );
      create table if not exists device_templates (
        device_id    text not null,
        template_id  text not null,
        state        text not null,
        slot         integer,
        detail       text,
        updated_at   text not null,
        primary key (device_id, template_id)
      );
      -- What a removed template was, without its bytes, until every device has dropped it.
      create table if not exists removed_templates (
        template_id     text primary key,
        student_id      text not null,
        device_user_id  text,
        finger          integer not null,
        format          text not null,
        removed_at      text not null
      );
      create unique index if not exists device_templates_slot on device_templates (device_id, slot) where slot is not null;
    `);
  }

  /**
   * After a certificate renewal: the new key opens what the hub sends from
   * now on; templates sealed for the old key stay unreadable until the hub
   * sends them again (it does, seeing the new certificate).
   */
  useKey(privateKeyPem: string): void {
    this.privateKey = createPrivateKey(privateKeyPem);
    this.keyId = recipientKeyId(this.privateKey);
    const der = this.privateKey.export({ type: 'pkcs8', format: 'der' });
    this.macKey = Buffer.from(hkdfSync('sha256', der, 'campushub.vault', 'row-mac', 32));
    der.fill(0);
  }

  private macOf(entry: VaultEntry, envelope: Buffer): Buffer {
    const fields = JSON.stringify([entry.templateId, entry.studentId, entry.deviceUserId, entry.finger, entry.format]);
    return createHmac('sha256', this.macKey).update(fields).update('\0').update(envelope).digest();
  }

  /**
   * Checks and stores one delivery: it must be wrapped for this agent's key
   * and open under its own context (so an altered or misaddressed envelope is
   * refused now, not at the door). Replaces an earlier copy.
   */
  put(delivery: Delivery): VaultEntry {
    const envelope = this.decode(delivery.templateId, Buffer.from(delivery.envelope, 'base64'));
    this.openChecked(delivery, envelope).fill(0);
    const entry: VaultEntry = { templateId: delivery.templateId, studentId: delivery.studentId, deviceUserId: delivery.deviceUserId, finger: delivery.finger, format: delivery.format };
    this.db
      .prepare(
        `insert into templates (template_id, student_id, device_user_id, finger, format, envelope, mac, received_at) values (?, ?, ?, ?, ?, ?, ?, ?)
         on conflict (template_id) do update set student_id = excluded.student_id, device_user_id = excluded.device_user_id, finger = excluded.finger,
           format = excluded.format, envelope = excluded.envelope, mac = excluded.mac, received_at = excluded.received_at`,
      )
      .run(entry.templateId, entry.studentId, entry.deviceUserId, entry.finger, entry.format, envelope, this.macOf(entry, envelope), new Date().toISOString());
    return entry;
  }

  /** The template's bytes, decrypted in memory. The caller zeroes them when done. */
  open(templateId: string): Buffer {
    const row = this.db.prepare<[string], TemplateRow>('select * from templates where template_id = ?').get(templateId);
    if (!row) throw new VaultError('unknown_template', `template ${templateId} is not in the vault`);
    return this.openChecked({ ...entryOf(row), templateId }, this.decode(templateId, row.envelope));
  }

  entry(templateId: string): VaultEntry | undefined {
    const row = this.db.prepare<[string], TemplateRow>('select template_id, student_id, device_user_id, finger, format from templates where template_id = ?').get(templateId);
    return row ? entryOf(row) : undefined;
  }

  entries(): VaultEntry[] {
    return this.db.prepare<[], TemplateRow>('select template_id, student_id, device_user_id, finger, format from templates order by template_id').all().map(entryOf);
  }

  /**
   * Deletes the template's envelope. What it was (student, finger, format)
   * stays, without bytes, until every device has confirmed the removal
   * (`forgetRemoved`), so that a device that was away can still be told.
   */
  remove(templateId: string): boolean {
    return this.db.transaction(() => {
      this.db
        .prepare(
          `insert into removed_templates (template_id, student_id, device_user_id, finger, format, removed_at)
           select template_id, student_id, device_user_id, finger, format, ? from templates where template_id = ?
           on conflict (template_id) do nothing`,
        )
        .run(new Date().toISOString(), templateId);
      return this.db.prepare('delete from templates where template_id = ?').run(templateId).changes > 0;
    })();
  }

  removedEntry(templateId: string): VaultEntry | undefined {
    const row = this.db.prepare<[string], TemplateRow>('select template_id, student_id, device_user_id, finger, format from removed_templates where template_id = ?').get(templateId);
    return row ? entryOf(row) : undefined;
  }

  /** Drops the last trace of a removed template once no device holds it. */
  forgetRemoved(templateId: string): void {
    this.db.transaction(() => {
      this.db.prepare('delete from removed_templates where template_id = ?').run(templateId);
      this.db.prepare('delete from device_templates where template_id = ?').run(templateId);
    })();
  }

  setDeviceState(deviceId: string, templateId: string, state: DeviceTemplateState, detail?: string, slot?: number | null): void {
    this.db
      .prepare(
        `insert into device_templates (device_id, template_id, state, slot, detail, updated_at) values (?, ?, ?, ?, ?, ?)
         on conflict (device_id, template_id) do update set state = excluded.state, detail = excluded.detail, updated_at = excluded.updated_at,
           slot = case when excluded.state = 'removed' then null else coalesce(excluded.slot, device_templates.slot) end`,
      )
      .run(deviceId, templateId, state, state === 'removed' ? null : (slot ?? null), detail ?? null, new Date().toISOString());
  }

  deviceStates(): DeviceTemplateStatus[] {
    return this.db
      .prepare<[], { device_id: string; template_id: string; state: DeviceTemplateState; detail: string | null }>(
        'select device_id, template_id, state, detail from device_templates order by device_id, template_id',
      )
      .all()
      .map((row) => ({ templateId: row.template_id, deviceId: row.device_id, state: row.state, ...(row.detail ? { detail: row.detail } : {}) }));
  }

  /** Devices that hold (or may hold) the template: everything not confirmed removed. */
  devicesHolding(templateId: string): string[] {
    return this.db
      .prepare<[string], { device_id: string }>(`select device_id from device_templates where template_id = ? and state <> 'removed'`)
      .all(templateId)
      .map((row) => row.device_id);
  }

  slotOf(deviceId: string, templateId: string): number | null {
    return this.db.prepare<[string, string], { slot: number | null }>('select slot from device_templates where device_id = ? and template_id = ?').get(deviceId, templateId)?.slot ?? null;
  }

  /** Library slots the vault has given out on a device. */
  usedSlots(deviceId: string): Set<number> {
    return new Set(this.db.prepare<[string], { slot: number }>('select slot from device_templates where device_id = ? and slot is not null').all(deviceId).map((row) => row.slot));
  }

  /** Which student a fingerprint module's slot identifies, for its taps. */
  studentAtSlot(deviceId: string, slot: number): string | undefined {
    return this.db
      .prepare<[string, number], { student_id: string }>(
        `select t.student_id from device_templates d join templates t on t.template_id = d.template_id where d.device_id = ? and d.slot = ? and d.state = 'present'`,
      )
      .get(deviceId, slot)?.student_id;
  }

  /**
   * Run at start: the SQLite file's integrity, and every template checked:
   * well formed, wrapped for this agent's key, and its row's MAC intact.
   * (The GCM tag is checked again whenever a template is opened.)
   */
  integrityCheck(): VaultIntegrity {
    const sqlite = String(this.db.pragma('integrity_check', { simple: true }));
    const rows = this.db.prepare<[], TemplateRow>('select * from templates order by template_id').all();
    const unreadable: VaultIntegrity['unreadable'] = [];
    for (const row of rows) {
      try {
        const envelope = decodeEnvelope(this.decode(row.template_id, row.envelope));
        this.checkKey(row.template_id, envelope.key);
        const expected = this.macOf(entryOf(row), row.envelope);
        if (row.mac.length !== expected.length || !timingSafeEqual(row.mac, expected)) {
          throw new VaultError('tampered', `template ${row.template_id} was altered in the vault file (its row no longer matches its MAC)`);
        }
      } catch (error) {
        if (!(error instanceof VaultError)) throw error;
        unreadable.push({ templateId: row.template_id, code: error.code, message: error.message });
      }
    }
    return { sqlite, templates: rows.length, unreadable };
  }

  close(): void {
    this.db.close();
  }

  private decode(templateId: string, bytes: Buffer): Buffer {
    try {
      return encodeEnvelope(decodeEnvelope(bytes));
    } catch (error) {
      if (error instanceof EnvelopeError) throw new VaultError('malformed', `template ${templateId}: ${error.message}`);
      throw error;
    }
  }

  private checkKey(templateId: string, key: KeyWrap): void {
    if (key.kind !== 'rsa-oaep-sha256' || key.kid !== this.keyId) {
      throw new VaultError(
        'wrong_key',
        `template ${templateId} is not sealed for this agent's key (${this.keyId.slice(0, 16)}…): it is meant for another agent, or this agent's key was replaced since`,
      );
    }
  }

  private openChecked(entry: Pick<VaultEntry, 'templateId' | 'studentId' | 'finger' | 'format'>, envelopeBytes: Buffer): Buffer {
    const envelope = decodeEnvelope(envelopeBytes);
    this.checkKey(entry.templateId, envelope.key);
    const context = templateContext(entry);
    try {
      return openEnvelope(envelope, context, recipientUnwrapper(this.privateKey, context));
    } catch (error) {
      if (error instanceof EnvelopeError) {
        throw new VaultError('tampered', `template ${entry.templateId} failed to open: ${error.message}`);
      }
      throw error;
    }
  }
}
