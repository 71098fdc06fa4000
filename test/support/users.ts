import type { Role } from '../../hub/auth/rules.js';
import type { TestHub } from './hub.js';

export interface TestUser {
  id: string;
  username: string;
  password: string;
  role: Role;
  departmentId: string | null;
  accessToken: string;
  refreshToken: string;
  /** fetch as this user. */
  api(path: string, init?: RequestInit): Promise<Response>;
  /** Signs in again (after something ended the user's sessions). */
  login(): Promise<void>;
}

let counter = 0;

export interface NewTestUser {
  role: Role;
  departmentId?: string | null;
  username?: string;
  password?: string;
  email?: string;
  phone?: string;
  guardianContact?: string;
}

export async function signIn(hub: TestHub, username: string, password: string): Promise<Response> {
  return fetch(`${hub.httpUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
}

/** Creates a user through the API (as the bootstrap admin) and signs them in. */
export async function createTestUser(hub: TestHub, spec: NewTestUser): Promise<TestUser> {
  counter += 1;
  const username = spec.username ?? `${spec.role}-${process.pid}-${counter}`;
  const password = spec.password ?? `correct horse battery ${counter} staple`;
  const departmentId = spec.departmentId === undefined ? (spec.role === 'hod' ? 'cs' : null) : spec.departmentId;
  const personal = { email: spec.email, phone: spec.phone, guardianContact: spec.guardianContact };
  const created = await hub.api('/api/v1/users', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, displayName: `Test ${spec.role} ${counter}`, role: spec.role, departmentId, password, ...personal }),
  });
  if (created.status !== 201) throw new Error(`creating ${username} failed: ${created.status} ${await created.text()}`);
  const { id } = (await created.json()) as { id: string };
  const user: TestUser = {
    id,
    username,
    password,
    role: spec.role,
    departmentId,
    accessToken: '',
    refreshToken: '',
    api: (path, init = {}) => fetch(`${hub.httpUrl}${path}`, { ...init, headers: { authorization: `Bearer ${user.accessToken}`, ...(init.headers ?? {}) } }),
    async login() {
      const response = await signIn(hub, user.username, user.password);
      if (response.status !== 200) throw new Error(`signing in ${user.username} failed: ${response.status} ${await response.text()}`);
      const tokens = (await response.json()) as { accessToken: string; refreshToken: string };
      user.accessToken = tokens.accessToken;
      user.refreshToken = tokens.refreshToken;
    },
  };
  await user.login();
  return user;
}
