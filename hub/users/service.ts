import { randomUUID } from 'node:crypto';
import { appendAudit, type AuditContext } from '../audit/append.js';
import { passwordProblem, type PasswordHasher } from '../auth/passwords.js';
import type { Role } from '../auth/rules.js';
import { findUserById, insertUser, setSealedField, type SealedField, type UserRow } from '../auth/users.js';
import type { Db, Queryable } from '../db/db.js';
import { HttpError } from '../errors.js';
import type { FieldCipher } from '../keys/fieldCipher.js';

export /** Personal fields as the API names them, and where they are sealed. */
const PERSONAL_FIELDS: Record<'email' | 'phone' | 'guardianContact', SealedField> = { email: 'email', phone: 'phone', guardianContact: 'guardian' };
export type PersonalInput = Partial<Record<keyof typeof PERSONAL_FIELDS, string | null>>;

export /** What an audit entry may say about a user: never the password hash, personal fields or their name (audit entries name people by id, so erasure leaves no trace in the chain). */
function auditable(user: UserRow) {
  return { role: user.role, departmentId: user.department_id, status: user.status };
}

export interface NewUserInput extends PersonalInput {
  username: string;
  displayName: string;
  role: Role;
  departmentId: string | null;
  password: string | null;
}

/** Creates a user, its sealed personal fields and its audit entry in one transaction. The route and `campushub users add` both use it. */
export async function createUser(
  db: Db,
  { fields, hasher, now }: { fields: FieldCipher; hasher: PasswordHasher; now: () => number },
  input: NewUserInput,
  context: AuditContext,
): Promise<UserRow> {
  if (input.role === 'hod' && !input.departmentId) throw new HttpError(400, 'department_required', 'an HOD needs a departmentId', { path: '/departmentId' });
  if (input.password !== null) checkPassword(input.password, input.username);
  const passwordHash = input.password === null ? null : await hasher.hash(input.password);
  const id = randomUUID();
  const taken = () => new HttpError(409, 'username_taken', `username ${input.username} is taken`, { path: '/username' });
  return db.transaction(async (tx) => {
    const existing = await tx.query('select 1 from users where lower(username) = lower($1)', [input.username]);
    if (existing.rows.length > 0) throw taken();
    // Two requests for one name at once: the unique index decides, and the loser gets the same 409.
    await insertUser(tx, { id, username: input.username, displayName: input.displayName, role: input.role, departmentId: input.departmentId, passwordHash }, new Date(now())).catch(
      (error: { code?: string }) => {
        throw error.code === '23505' ? taken() : error;
      },
    );
    const personal = await sealPersonal(tx, fields, id, input);
    const created = (await findUserById(tx, id))!;
    await appendAudit(tx, { ...context, action: 'user.create', target: `user:${id}`, after: { ...auditable(created), personalFields: personal } });
    return created;
  });
}

export async function sealPersonal(tx: Queryable, fields: FieldCipher, userId: string, input: PersonalInput): Promise<string[]> {
  const changed: string[] = [];
  for (const [name, column] of Object.entries(PERSONAL_FIELDS) as [keyof typeof PERSONAL_FIELDS, SealedField][]) {
    const value = input[name];
    if (value === undefined) continue;
    await setSealedField(tx, userId, column, value === null ? null : await fields.seal(tx, `user:${userId}`, column, value));
    changed.push(name);
  }
  return changed;
}

export function checkPassword(password: string, username: string): void {
  const problem = passwordProblem(password, username);
  if (problem) throw new HttpError(400, 'weak_password', problem, { path: '/password' });
}

