// The admin area's endpoints (api/admin.go, and a form's draft and publish for the permission
// matrix), through the app's one HTTP client (api/client.ts).
import { request } from '../api/client'
import type { Text } from '../api/types'
import type { MatrixDefinition } from './matrix'

const enc = encodeURIComponent

/** User is engine.User. */
export interface User {
  username: string
  displayName: string
  email?: string
  department?: string
  roles: string[]
  manager?: string
  disabled: boolean
  createdAt: string
  updatedAt: string
  rev: number
}

/** UserInput is engine.UserInput (a new user). */
export interface UserInput {
  username: string
  displayName: string
  department: string
  roles: string[]
  password: string
}

/** UserPatch is engine.UserPatch: fields left out stay as they are. */
export interface UserPatch {
  displayName?: string
  department?: string
  roles?: string[]
  disabled?: boolean
}

/** Grant is engine.Grant: actions in one app ("*" every app, "" the platform). */
export interface Grant {
  app: string
  actions: string[]
}

/** GrantAction is engine.GrantAction: an action a role may grant, and where it applies. */
export interface GrantAction {
  id: string
  label: Text
  on: ('platform' | 'app')[]
}

/** Role is engine.Role. */
export interface Role {
  name: string
  label: Text
  grants: Grant[]
  rev: number
}

/** Department is engine.Department. */
export interface Department {
  id: string
  name: Text
  parent?: string
  head?: string
  rev: number
}

/** AuditEntry is engine.AuditEntry. */
export interface AuditEntry {
  seq: number
  at: string
  actor: string
  action: string
  kind?: string
  target?: string
  before?: unknown
  after?: unknown
  ip?: string
  prev: string
  hash: string
}

/** AuditFilter is the audit list's query (api/admin.go): since/until are RFC 3339 times. */
export interface AuditFilter {
  actor?: string
  action?: string
  target?: string
  since?: string
  until?: string
}

/** AuditPage is a page of entries and the before of the next page (0: this is the last). */
export interface AuditPage {
  items: AuditEntry[]
  next: number
}

/** AuditReport is engine.AuditReport. */
export interface AuditReport {
  entries: number
  ok: boolean
  keyed: boolean
  legacy?: number
  lastHash?: string
  firstBad?: number
  reason?: string
  unaudited?: number
}

/** Delivery is engine.Delivery: a failing delivery of an event to a subscriber. */
export interface Delivery {
  key: string
  subscriber: string
  event: { id: string; type: string; app?: string; target?: string; actor?: string; at?: string }
  state: 'retrying' | 'dead'
  attempts: number
  error: string
  firstFailed: string
  lastFailed: string
  nextAttempt?: string
}

export const adminApi = {
  users: () => request<User[]>('GET', '/api/v1/users'),
  createUser: (u: UserInput) => request<User>('POST', '/api/v1/users', { body: u }),
  updateUser: (username: string, rev: number, patch: UserPatch) =>
    request<User>('PATCH', `/api/v1/users/${enc(username)}`, { body: { ...patch, rev } }),
  setPassword: (username: string, password: string) =>
    request<{ ok: boolean }>('PUT', `/api/v1/users/${enc(username)}/password`, { body: { password } }),
  revokeSessions: (username: string) => request<{ ok: boolean }>('POST', `/api/v1/users/${enc(username)}/revoke-sessions`),

  roles: () => request<Role[]>('GET', '/api/v1/roles'),
  /** grantActions lists the actions a role may grant (GET /api/v1/admin/actions). */
  grantActions: () => request<GrantAction[]>('GET', '/api/v1/admin/actions'),
  /** putRole creates a role (rev 0) or changes one (its rev). */
  putRole: (r: Role) => request<Role>('PUT', `/api/v1/roles/${enc(r.name)}`, { body: r }),
  deleteRole: (name: string) => request<{ ok: boolean }>('DELETE', `/api/v1/roles/${enc(name)}`),

  departments: () => request<Department[]>('GET', '/api/v1/departments'),
  putDepartment: (d: Department) => request<Department>('PUT', `/api/v1/departments/${enc(d.id)}`, { body: d }),

  audit: async (f: AuditFilter, before?: number, limit = 50): Promise<AuditPage> => {
    let next = 0
    const items = await request<AuditEntry[]>('GET', '/api/v1/audit', {
      query: { ...f, before, limit },
      headers: (h) => (next = Number(h.get('X-Audit-Next') ?? 0) || 0),
    })
    return { items, next }
  },
  verifyAudit: () => request<AuditReport>('GET', '/api/v1/audit/verify'),

  failedDeliveries: () => request<Delivery[]>('GET', '/api/v1/admin/bus/failed'),
  retryDelivery: (key: string) => {
    const [event, subscriber] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)]
    return request<{ ok: boolean }>('POST', `/api/v1/admin/bus/failed/${enc(event)}/${enc(subscriber)}/retry`)
  },
}

/** MatrixForm is forms.Form with its draft as the permission matrix reads it. */
export interface MatrixForm {
  key: string
  draft: MatrixDefinition
  published: number
  rev: number
}

const formPath = (app: string, form: string) => `/api/v1/apps/${enc(app)}/forms/${enc(form)}`

/** formsApi is what the permission matrix reads and writes of an app's forms (docs/forms.md). */
export const formsApi = {
  forms: (app: string) => request<MatrixForm[]>('GET', `/api/v1/apps/${enc(app)}/forms`),
  form: (app: string, form: string) => request<MatrixForm>('GET', formPath(app, form)),
  latest: async (app: string, form: string) => {
    const vs = await request<{ version: number; definition: MatrixDefinition }[]>('GET', `${formPath(app, form)}/versions`)
    return vs.reduce<(typeof vs)[number] | undefined>((best, v) => (!best || v.version > best.version ? v : best), undefined)
  },
  /** saveDraft saves the draft over revision rev (a stale rev is a 409). */
  saveDraft: (app: string, def: MatrixDefinition, rev: number) =>
    request<MatrixForm>('PUT', formPath(app, def.key), { query: { rev }, body: def }),
  publish: (app: string, form: string) => request<{ version: number }>('POST', `${formPath(app, form)}/publish`),
}
