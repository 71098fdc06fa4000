import type { OwnedObject, Principal } from '../../hub/auth/rules.js';
import type { TestHub } from './hub.js';
import type { TestUser } from './users.js';

/**
 * The route matrix's vocabulary. Each domain folder of the hub has a
 * `routes.cases.ts` that says, for each of its routes, how to call it and
 * what success looks like; `hub/auth/routeMatrix.test.ts` calls every route
 * as every role, about the caller's own object and others'.
 */

export interface Caller {
  name: string;
  principal: Principal;
  /** The user behind the caller, when there is one. */
  user: TestUser | null;
  call(path: string, init?: RequestInit): Promise<Response>;
}

export interface MatrixContext {
  hub: TestHub;
  /** The matrix's users: admin, hodCs (HOD of cs), facultyCs, studentA (cs), studentB (ee). */
  users: Record<string, TestUser>;
  /** What a domain's `setup` made, for its cases to use. */
  state: Record<string, unknown>;
}

export interface RouteRequest {
  path: string;
  body?: unknown;
}

export interface RouteCase {
  /** Builds the request. `target` is whose object it is about (routes with object rules); otherwise the caller's user. */
  request(context: MatrixContext, caller: Caller, target: TestUser): Promise<RouteRequest> | RouteRequest;
  /** The object as the policy module sees it, for routes whose rule has an object part. */
  object?(target: TestUser, context: MatrixContext): OwnedObject;
  /** What the route answers when the policy lets the call through. */
  succeeded(response: Response, body: { error?: string }): boolean;
  /** The call ends sign-ins: everyone signs in again afterwards. */
  endsSessions?: boolean;
  /** The call set the target's password to the body's `newPassword`. */
  setsPassword?: boolean;
  /**
   * The audit actions a successful (2xx) call writes, at least one of them per
   * call. Every POST, PUT, PATCH and DELETE route must name them, or say in
   * `auditExempt` why it changes no state worth an entry; the matrix checks
   * each successful call against this (hub/auth/routeMatrix.test.ts).
   */
  audits?: string[];
  /** Why a state-changing route writes no audit entry, e.g. a read that has to be a POST. */
  auditExempt?: string;
}

export interface RouteCases {
  /** Runs once before the domain's cases, e.g. to create a section taught by facultyCs with studentA enrolled. */
  setup?(context: MatrixContext): Promise<void>;
  cases: Record<string, RouteCase>;
}

export const jsonBody = (body: unknown): RequestInit => ({ body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
export const statusIn = (statuses: number[]) => (response: Response) => statuses.includes(response.status);
