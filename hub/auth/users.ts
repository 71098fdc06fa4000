import type { Queryable } from '../db/db.js';
import type { Role, Scope } from './rules.js';

export interface UserRow {
  id: string;
  username: string;
  display_name: string;
  role: Role;
  department_id: string | null;
  status: 'active' | 'disabled';
  identity_provider: string;
  password_hash: string | null;
  session_epoch: number;
  email_sealed: Buffer | null;
  phone_sealed: Buffer | null;
  guardian_sealed: Buffer | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, username, display_name, role, department_id, status, identity_provider, password_hash, session_epoch,
  email_sealed, phone_sealed, guardian_sealed, created_at, updated_at`;

export async function findUserByUsername(db: Queryable, username: string): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>(`select ${COLUMNS} from users where lower(username) = lower($1)`, [username]);
  return rows[0] ?? null;
}

export async function findUserById(db: Queryable, id: string, forUpdate = false): Promise<UserRow | null> {
  const { rows } = await db.query<UserRow>(`select ${COLUMNS} from users where id = $1${forUpdate ? ' for update' : ''}`, [id]);
  return rows[0] ?? null;
}

export interface NewUser {
  id: string;
  username: string;
  displayName: string;
  role: Role;
  departmentId: string | null;
  passwordHash: string | null;
}

export async function insertUser(db: Queryable, user: NewUser, now: Date): Promise<void> {
  await db.query(
    `insert into users (id, username, display_name, role, department_id, password_hash, password_changed_at, created_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, case when $6::text is null then null else $7::timestamptz end, $7, $7)`,
    [user.id, user.username, user.displayName, user.role, user.departmentId, user.passwordHash, now],
  );
}

export type SealedField = 'email' | 'phone' | 'guardian';
export const SEALED_FIELDS: readonly SealedField[] = ['email', 'phone', 'guardian'];

export async function setSealedField(db: Queryable, id: string, field: SealedField, sealed: Buffer | null): Promise<void> {
  // The column name comes from the closed SealedField set, never from input.
  await db.query(`update users set ${field}_sealed = $2, updated_at = now() where id = $1`, [id, sealed]);
}

export interface UserChanges {
  displayName?: string;
  role?: Role;
  departmentId?: string | null;
  status?: 'active' | 'disabled';
}

export async function updateUser(db: Queryable, id: string, changes: UserChanges, now: Date): Promise<void> {
  await db.query(
    `update users set
       display_name = coalesce($2, display_name),
       role = coalesce($3, role),
       department_id = case when $4 then $5 else department_id end,
       status = coalesce($6, status),
       updated_at = $7
     where id = $1`,
    [id, changes.displayName ?? null, changes.role ?? null, changes.departmentId !== undefined, changes.departmentId ?? null, changes.status ?? null, now],
  );
}

export async function setPasswordHash(db: Queryable, id: string, passwordHash: string, now: Date): Promise<void> {
  await db.query('update users set password_hash = $2, password_changed_at = $3, updated_at = $3 where id = $1', [id, passwordHash, now]);
}

/** Invalidates every access token issued so far ("log out everywhere", disabling, a new password). */
export async function raiseSessionEpoch(db: Queryable, id: string): Promise<void> {
  await db.query('update users set session_epoch = session_epoch + 1 where id = $1', [id]);
}

export interface UserListFilter {
  role?: Role;
  afterId?: string;
  limit: number;
}

/** Users the scope may see, in id order; the scope is part of the WHERE clause. */
export async function listUsers(db: Queryable, scope: Scope, filter: UserListFilter): Promise<UserRow[]> {
  if (scope.kind === 'none') return [];
  const params: unknown[] = [filter.limit];
  const where: string[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (scope.kind === 'department') where.push(`department_id = ${param(scope.departmentId)}`);
  if (scope.kind === 'self') where.push(`id = ${param(scope.userId)}`);
  // Teaching relations arrive with sections (hub core); until then faculty list only themselves.
  if (scope.kind === 'teaching') where.push(`id = ${param(scope.facultyUserId)}`);
  if (filter.role) where.push(`role = ${param(filter.role)}`);
  if (filter.afterId) where.push(`id > ${param(filter.afterId)}`);
  const { rows } = await db.query<UserRow>(
    `select ${COLUMNS} from users ${where.length > 0 ? `where ${where.join(' and ')}` : ''} order by id limit $1`,
    params,
  );
  return rows;
}

/** The active HODs of a department: who approves its requests at the HOD step. */
export async function activeHodIds(q: Queryable, departmentId: string): Promise<string[]> {
  const { rows } = await q.query<{ id: string }>(`select id::text from users where role = 'hod' and department_id = $1 and status = 'active' order by id`, [departmentId]);
  return rows.map((row) => row.id);
}
