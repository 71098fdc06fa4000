import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, mayUse, RULES, scopeOf, type Principal, type RuleName } from './rules.js';

const person = (id: string, role: Principal['role'], departmentId: string | null = null): Principal => ({ id, kind: 'user', role, departmentId, scopes: null });
const admin = person('admin', 'admin');
const hodCs = person('hod-cs', 'hod', 'cs');
const faculty = person('fac-1', 'faculty', 'cs');
const studentA = person('stu-a', 'student', 'cs');
const studentB = person('stu-b', 'student', 'cs');

test('a student reaches their own personal data and no one else\'s, without learning whether it exists', () => {
  assert.equal(decide(studentA, 'users.read', { ownerUserId: 'stu-a', departmentId: 'cs' }), 'allow');
  assert.equal(decide(studentA, 'users.read', { ownerUserId: 'stu-b', departmentId: 'cs' }), 'not-found');
  assert.equal(decide(studentB, 'users.read', { ownerUserId: 'stu-a', departmentId: 'cs' }), 'not-found');
});

test('an HOD reaches their department only; faculty reach the people they teach; an admin reaches everything', () => {
  assert.equal(decide(hodCs, 'users.read', { ownerUserId: 'stu-a', departmentId: 'cs' }), 'allow');
  assert.equal(decide(hodCs, 'users.read', { ownerUserId: 'stu-x', departmentId: 'ee' }), 'not-found');
  assert.equal(decide(person('hod-none', 'hod'), 'users.read', { ownerUserId: 'stu-x', departmentId: null }), 'not-found');
  assert.equal(decide(faculty, 'users.read', { ownerUserId: 'stu-a', departmentId: 'cs', facultyUserIds: ['fac-1'] }), 'allow');
  assert.equal(decide(faculty, 'users.read', { ownerUserId: 'stu-a', departmentId: 'cs', facultyUserIds: ['fac-2'] }), 'not-found');
  assert.equal(decide(admin, 'users.read', { ownerUserId: 'anyone', departmentId: 'ee' }), 'allow');
});

test('a password is changed only by its owner, or reset by an admin', () => {
  assert.equal(decide(studentA, 'users.password', { ownerUserId: 'stu-a' }), 'allow');
  assert.equal(decide(hodCs, 'users.password', { ownerUserId: 'stu-a' }), 'not-found');
  assert.equal(decide(admin, 'users.password', { ownerUserId: 'stu-a' }), 'allow');
});

test('role gates: only admins manage users, keys, certificates and agents; students and faculty never list users', () => {
  for (const rule of ['users.manage', 'api-keys.manage', 'pki.enrollment.issue', 'pki.certificates.revoke', 'agents.command', 'audit.read'] as RuleName[]) {
    assert.ok(mayUse(admin, rule), rule);
    for (const principal of [hodCs, faculty, studentA]) assert.equal(mayUse(principal, rule), false, `${principal.role} ${rule}`);
  }
  assert.equal(mayUse(studentA, 'users.list'), false);
  assert.equal(mayUse(faculty, 'users.list'), false);
  assert.ok(mayUse(hodCs, 'users.list'));
});

test('an API key is limited to its scopes, within what the service role may do', () => {
  const key: Principal = { id: 'api-key:1', kind: 'api-key', role: 'service', departmentId: null, scopes: ['events.read'] };
  assert.ok(mayUse(key, 'events.read'));
  assert.equal(mayUse(key, 'metrics.read'), false, 'not among its scopes');
  assert.equal(mayUse({ ...key, scopes: ['users.manage'] }, 'users.manage'), false, 'a scope cannot lift the role gate');
});

test('list scopes follow the role, and a role with nothing to list gets an empty scope', () => {
  assert.deepEqual(scopeOf(admin), { kind: 'all' });
  assert.deepEqual(scopeOf(hodCs), { kind: 'department', departmentId: 'cs' });
  assert.deepEqual(scopeOf(person('hod-none', 'hod')), { kind: 'none' });
  assert.deepEqual(scopeOf(faculty), { kind: 'teaching', facultyUserId: 'fac-1' });
  assert.deepEqual(scopeOf(studentA), { kind: 'self', userId: 'stu-a' });
  assert.deepEqual(scopeOf({ ...admin, role: 'service' }), { kind: 'none' });
});

test('every rule names at least one role and describes itself', () => {
  for (const [name, rule] of Object.entries(RULES)) {
    assert.ok(rule.roles.length > 0, name);
    assert.ok(rule.description.length > 5, name);
  }
});

test('a section\'s business belongs to its teachers, its HOD and admins; its members may also read its sessions', () => {
  const section = { departmentId: 'cs', facultyUserIds: ['fac-1'], memberUserIds: ['stu-a'] };
  assert.equal(decide(faculty, 'sessions.manage', section), 'allow');
  assert.equal(decide(person('fac-2', 'faculty', 'cs'), 'sessions.manage', section), 'not-found', 'another teacher of the same department');
  assert.equal(decide(hodCs, 'records.mark', section), 'allow');
  assert.equal(decide(person('hod-ee', 'hod', 'ee'), 'records.mark', section), 'not-found');
  assert.equal(decide(studentA, 'records.mark', section), 'forbidden', 'students never mark');
  assert.equal(decide(studentA, 'sessions.read', section), 'allow', 'an enrolled student reads the session');
  assert.equal(decide(studentB, 'sessions.read', section), 'not-found', 'a student of another section does not');
  assert.equal(decide(studentA, 'records.read', { ownerUserId: 'stu-a', departmentId: 'cs', facultyUserIds: ['fac-1'] }), 'allow');
  assert.equal(decide(studentB, 'records.read', { ownerUserId: 'stu-a', departmentId: 'cs', facultyUserIds: ['fac-1'] }), 'not-found');
  assert.equal(decide(faculty, 'records.read', { ownerUserId: 'stu-a', departmentId: 'cs', facultyUserIds: ['fac-1'] }), 'allow');
});
