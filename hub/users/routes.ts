import type { FastifyInstance } from 'fastify';
import { appendAudit, auditContextOf } from '../audit/append.js';
import type { PasswordHasher } from '../auth/passwords.js';
import { revokeAllFamilies } from '../auth/refreshTokens.js';
import { ROLES, scopeOf, type Role } from '../auth/rules.js';
import { findUserById, listUsers, raiseSessionEpoch, setPasswordHash, updateUser, type UserChanges } from '../auth/users.js';
import type { Db } from '../db/db.js';
import { ErrorResponse, HttpError } from '../errors.js';
import type { FieldCipher } from '../keys/fieldCipher.js';
import { auditable, checkPassword, createUser, sealPersonal, type PersonalInput } from './service.js';
import { userView } from './view.js';

const MAX_PAGE = 200;
const USERNAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@-]{1,99}$';
const DEPARTMENT_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
const UUID = { type: 'string', format: 'uuid' } as const;

const PersonalProperties = {
  email: { type: ['string', 'null'], format: 'email', maxLength: 254 },
  phone: { type: ['string', 'null'], pattern: '^\\+?[0-9 ()-]{6,20}$' },
  guardianContact: { type: ['string', 'null'], minLength: 3, maxLength: 200 },
} as const;

interface CreateBody extends PersonalInput {
  username: string;
  displayName: string;
  role: Role;
  departmentId?: string | null;
  password?: string;
}

interface PatchBody extends PersonalInput {
  displayName?: string;
  role?: Role;
  departmentId?: string | null;
  status?: 'active' | 'disabled';
  reason?: string;
}

export interface UserRoutesOptions {
  db: Db;
  fields: FieldCipher;
  hasher: PasswordHasher;
  now: () => number;
}

export async function userRoutes(app: FastifyInstance, { db, fields, hasher, now }: UserRoutesOptions): Promise<void> {

  app.post<{ Body: CreateBody }>(
    '/api/v1/users',
    {
      config: { policy: 'users.manage' },
      schema: {
        summary: 'Create a user. An HOD needs a department. Personal fields are stored encrypted.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['username', 'displayName', 'role'],
          properties: {
            username: { type: 'string', pattern: USERNAME_PATTERN },
            displayName: { type: 'string', minLength: 1, maxLength: 200 },
            role: { type: 'string', enum: ROLES },
            departmentId: { type: ['string', 'null'], pattern: DEPARTMENT_PATTERN },
            password: { type: 'string', maxLength: 1024 },
            ...PersonalProperties,
          },
        },
        response: { 201: { $ref: 'UserView#' }, 400: ErrorResponse, 409: ErrorResponse },
      },
    },
    async (request, reply) => {
      const { password, ...body } = request.body;
      const user = await createUser(db, { fields, hasher, now }, { ...body, departmentId: body.departmentId ?? null, password: password ?? null }, auditContextOf(request));
      return reply.code(201).send(await userView(db, fields, user));
    },
  );

  app.get<{ Querystring: { limit: number; cursor?: string; role?: Role } }>(
    '/api/v1/users',
    {
      config: { policy: 'users.list' },
      schema: {
        summary: 'Users the caller may see (an HOD: their department), in pages',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 50 }, cursor: UUID, role: { type: 'string', enum: ROLES } },
        },
        response: {
          200: {
            type: 'object',
            required: ['items', 'nextCursor'],
            properties: { items: { type: 'array', items: { $ref: 'UserView#' } }, nextCursor: { type: ['string', 'null'] } },
          },
        },
      },
    },
    async (request) => {
      const { limit, cursor, role } = request.query;
      const rows = await listUsers(db, scopeOf(request.principal!), { limit: limit + 1, afterId: cursor, role });
      const page = rows.slice(0, limit);
      return { items: await Promise.all(page.map((row) => userView(db, fields, row))), nextCursor: rows.length > limit ? page.at(-1)!.id : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/users/:id',
    {
      config: { policy: 'users.read' },
      schema: {
        summary: 'One user, with personal fields masked',
        params: { type: 'object', required: ['id'], properties: { id: UUID } },
        response: { 200: { $ref: 'UserView#' }, 404: ErrorResponse },
      },
    },
    async (request) => {
      const user = await findUserById(db, request.params.id);
      request.authorize({ ownerUserId: user?.id ?? null, departmentId: user?.department_id ?? null });
      if (!user) throw new HttpError(404, 'not_found', 'no such object');
      return userView(db, fields, user);
    },
  );

  app.patch<{ Params: { id: string }; Body: PatchBody }>(
    '/api/v1/users/:id',
    {
      config: { policy: 'users.manage' },
      schema: {
        summary: 'Change a user: role, department, status, name, personal fields. Disabling ends every sign-in.',
        params: { type: 'object', required: ['id'], properties: { id: UUID } },
        body: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          properties: {
            displayName: { type: 'string', minLength: 1, maxLength: 200 },
            role: { type: 'string', enum: ROLES },
            departmentId: { type: ['string', 'null'], pattern: DEPARTMENT_PATTERN },
            status: { type: 'string', enum: ['active', 'disabled'] },
            reason: { type: 'string', minLength: 3, maxLength: 500 },
            ...PersonalProperties,
          },
        },
        response: { 200: { $ref: 'UserView#' }, 400: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (request) => {
      const { reason, ...body } = request.body;
      const at = new Date(now());
      const user = await db.transaction(async (tx) => {
        const before = await findUserById(tx, request.params.id, true);
        if (!before) throw new HttpError(404, 'not_found', 'no such object');
        const changes: UserChanges = { displayName: body.displayName, role: body.role, departmentId: body.departmentId, status: body.status };
        const role = changes.role ?? before.role;
        const department = changes.departmentId === undefined ? before.department_id : changes.departmentId;
        if (role === 'hod' && !department) throw new HttpError(400, 'department_required', 'an HOD needs a departmentId', { path: '/departmentId' });
        if ((changes.role !== undefined && changes.role !== before.role) && !reason) {
          throw new HttpError(400, 'reason_required', 'a role change needs a reason', { path: '/reason' });
        }
        await updateUser(tx, before.id, changes, at);
        const personal = await sealPersonal(tx, fields, before.id, body);
        const after = (await findUserById(tx, before.id))!;
        const endsSessions = (changes.status === 'disabled' && before.status !== 'disabled') || (changes.role !== undefined && changes.role !== before.role);
        if (endsSessions) {
          await revokeAllFamilies(tx, before.id, changes.status === 'disabled' ? 'disabled' : 'role_change', at);
          await raiseSessionEpoch(tx, before.id);
        }
        const action = changes.role !== undefined && changes.role !== before.role ? 'user.role.change' : 'user.update';
        await appendAudit(tx, {
          ...auditContextOf(request),
          action,
          target: `user:${before.id}`,
          before: auditable(before),
          after: { ...auditable(after), personalFields: personal },
          reason: reason ?? null,
        });
        return after;
      });
      return userView(db, fields, user);
    },
  );

  app.put<{ Params: { id: string }; Body: { currentPassword?: string; newPassword: string } }>(
    '/api/v1/users/:id/password',
    {
      config: { policy: 'users.password' },
      schema: {
        summary: 'Change a password. The user gives the current one; an admin resetting someone else\'s does not. Ends other sign-ins.',
        params: { type: 'object', required: ['id'], properties: { id: UUID } },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['newPassword'],
          properties: { currentPassword: { type: 'string', maxLength: 1024 }, newPassword: { type: 'string', maxLength: 1024 } },
        },
        response: { 204: { type: 'null' }, 400: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (request, reply) => {
      const user = await findUserById(db, request.params.id);
      request.authorize({ ownerUserId: user?.id ?? null });
      if (!user) throw new HttpError(404, 'not_found', 'no such object');
      const self = request.principal!.id === user.id;
      if (self) {
        const current = request.body.currentPassword ?? '';
        const verdict = user.password_hash ? await hasher.verify(user.password_hash, current) : { ok: false };
        if (!verdict.ok) throw new HttpError(400, 'wrong_current_password', 'the current password is wrong', { path: '/currentPassword' });
      }
      checkPassword(request.body.newPassword, user.username);
      const passwordHash = await hasher.hash(request.body.newPassword);
      const at = new Date(now());
      await db.transaction(async (tx) => {
        await setPasswordHash(tx, user.id, passwordHash, at);
        await revokeAllFamilies(tx, user.id, 'password_change', at);
        await raiseSessionEpoch(tx, user.id);
        await appendAudit(tx, { ...auditContextOf(request), action: self ? 'user.password.change' : 'user.password.reset', target: `user:${user.id}` });
      });
      return reply.code(204).send();
    },
  );
}
