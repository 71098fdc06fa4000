import type { Queryable } from '../db/db.js';
import type { FieldCipher } from '../keys/fieldCipher.js';
import type { SealedField, UserRow } from '../auth/users.js';

/**
 * Personal fields leave the hub masked: enough to recognise one's own
 * address or number, never the whole of it.
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return maskTail(email);
  const domain = email.slice(at + 1);
  const dot = domain.lastIndexOf('.');
  return `${email[0]}•••@${domain[0] ?? ''}•••${dot > 0 ? domain.slice(dot) : ''}`;
}

export function maskTail(value: string): string {
  const visible = value.length > 6 ? value.slice(-2) : '';
  return `•••${visible}`;
}

export const FIELD_MASKS: Record<SealedField, (value: string) => string> = { email: maskEmail, phone: maskTail, guardian: maskTail };

export interface UserView {
  id: string;
  username: string;
  displayName: string;
  role: string;
  departmentId: string | null;
  status: string;
  identityProvider: string;
  /** Masked personal fields; null when not set. */
  email: string | null;
  phone: string | null;
  guardianContact: string | null;
  createdAt: string;
  updatedAt: string;
}

export const UserViewSchema = {
  $id: 'UserView',
  type: 'object',
  required: ['id', 'username', 'displayName', 'role', 'departmentId', 'status', 'email', 'phone', 'guardianContact', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'string' },
    username: { type: 'string' },
    displayName: { type: 'string' },
    role: { type: 'string' },
    departmentId: { type: ['string', 'null'] },
    status: { type: 'string' },
    identityProvider: { type: 'string' },
    email: { type: ['string', 'null'], description: 'masked' },
    phone: { type: ['string', 'null'], description: 'masked' },
    guardianContact: { type: ['string', 'null'], description: 'masked' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
} as const;

async function masked(db: Queryable, fields: FieldCipher, user: UserRow, field: SealedField): Promise<string | null> {
  const sealed = user[`${field}_sealed`];
  if (!sealed) return null;
  return FIELD_MASKS[field](await fields.open(db, `user:${user.id}`, field, sealed));
}

export async function userView(db: Queryable, fields: FieldCipher, user: UserRow): Promise<UserView> {
  return {
    id: user.id,
    username: user.username,
    displayName: user.display_name,
    role: user.role,
    departmentId: user.department_id,
    status: user.status,
    identityProvider: user.identity_provider,
    email: await masked(db, fields, user, 'email'),
    phone: await masked(db, fields, user, 'phone'),
    guardianContact: await masked(db, fields, user, 'guardian'),
    createdAt: user.created_at.toISOString(),
    updatedAt: user.updated_at.toISOString(),
  };
}
