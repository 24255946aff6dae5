// The permission matrix's state: for each form of an app, what each role may do with its
// records (the definition's `permissions`, forms/form_model.go Permission). The matrix edits
// a copy of each form's draft permissions and writes them back into the draft untouched
// otherwise; the server checks everything again when the draft is saved.
import type { Text } from '../api/types'

/** Record actions a form permission grants, in the order the matrix shows them. */
export const recordActions = ['create', 'read', 'update', 'delete', 'export'] as const
export type RecordAction = (typeof recordActions)[number]

/** Row scopes: every record, the user's own, their department's, or an expression. */
export const scopes = ['all', 'own', 'department', 'expr'] as const
export type Scope = (typeof scopes)[number]

/** Permission is forms.Permission as the definition stores it. */
export interface Permission {
  actions: string[]
  scope?: string
  condition?: string
  hidden?: string[]
  readOnly?: string[]
}

/** A definition as the matrix reads it: its permissions, its fields; the rest is kept as it is. */
export interface MatrixDefinition {
  key: string
  name?: Text
  schema?: { properties?: Record<string, { 'x-type'?: string; 'x-label'?: Text }> }
  permissions?: Record<string, Permission>
  [k: string]: unknown
}

/** FieldRule is what one role may do with one field. */
export type FieldRule = 'edit' | 'readOnly' | 'hidden'

/** MatrixField is a top-level field of a form (the ones field rules name). */
export interface MatrixField {
  key: string
  label?: Text
  type?: string
}

/** fieldsOf lists a definition's top-level fields in schema order. */
export function fieldsOf(def: MatrixDefinition): MatrixField[] {
  return Object.entries(def.schema?.properties ?? {}).map(([key, p]) => ({ key, label: p['x-label'], type: p['x-type'] }))
}

/** permissionsOf reads a definition's permissions as a fresh copy the matrix may change. */
export function permissionsOf(def: MatrixDefinition): Record<string, Permission> {
  return structuredClone(def.permissions ?? {})
}

/** permissionOf is a role's permission, or an empty one (no actions) when it has none. */
export function permissionOf(perms: Record<string, Permission>, role: string): Permission {
  return perms[role] ?? { actions: [] }
}

/** isEmpty: a permission that grants nothing and sets no rules is left out of the definition. */
export function isEmpty(p: Permission): boolean {
  return !p.actions.length && !p.hidden?.length && !p.readOnly?.length && (!p.scope || p.scope === 'all') && !p.condition
}

/** normalised drops the keys a permission does not need, so equal meanings compare equal. */
export function normalised(p: Permission): Permission {
  const out: Permission = { actions: [...p.actions] }
  if (p.scope && p.scope !== 'all') out.scope = p.scope
  if (p.condition) out.condition = p.condition
  if (p.hidden?.length) out.hidden = [...p.hidden]
  if (p.readOnly?.length) out.readOnly = [...p.readOnly]
  return out
}

/** setAction grants or takes away one action, keeping the matrix's order of actions. */
export function setAction(p: Permission, action: RecordAction, on: boolean): Permission {
  const have = new Set(p.actions)
  if (on) have.add(action)
  else have.delete(action)
  const known = recordActions.filter((a) => have.has(a))
  const others = p.actions.filter((a) => !(recordActions as readonly string[]).includes(a) && have.has(a))
  return { ...p, actions: [...known, ...others] }
}

/** setScope sets the row scope; leaving expr drops the condition (the server refuses one without it). */
export function setScope(p: Permission, scope: Scope, condition = ''): Permission {
  const out: Permission = { ...p, scope }
  if (scope === 'expr') out.condition = condition
  else delete out.condition
  if (scope === 'all') delete out.scope
  return out
}

/** ruleOf is the rule a permission sets on a field. */
export function ruleOf(p: Permission, field: string): FieldRule {
  if (p.hidden?.includes(field)) return 'hidden'
  if (p.readOnly?.includes(field)) return 'readOnly'
  return 'edit'
}

/** setRule sets the rule of one field: hidden and read-only exclude each other. */
export function setRule(p: Permission, field: string, rule: FieldRule): Permission {
  const hidden = (p.hidden ?? []).filter((f) => f !== field)
  const readOnly = (p.readOnly ?? []).filter((f) => f !== field)
  if (rule === 'hidden') hidden.push(field)
  if (rule === 'readOnly') readOnly.push(field)
  const out: Permission = { ...p }
  if (hidden.length) out.hidden = hidden
  else delete out.hidden
  if (readOnly.length) out.readOnly = readOnly
  else delete out.readOnly
  return out
}

/** withRole is perms with role's permission replaced (left out when it is empty). */
export function withRole(perms: Record<string, Permission>, role: string, p: Permission): Record<string, Permission> {
  const out = { ...perms }
  if (isEmpty(p)) delete out[role]
  else out[role] = p
  return out
}

/**
 * withPermissions is def with its permissions replaced; every other member stays as it was,
 * in its place. No permissions at all leaves the member out.
 */
export function withPermissions(def: MatrixDefinition, perms: Record<string, Permission>): MatrixDefinition {
  const out: MatrixDefinition = { ...def }
  const kept = Object.fromEntries(Object.entries(perms).filter(([, p]) => !isEmpty(p)))
  if (Object.keys(kept).length) out.permissions = kept
  else delete out.permissions
  return out
}

/** samePermissions compares two permission maps by meaning (order of roles and empty keys aside). */
export function samePermissions(a: Record<string, Permission> | undefined, b: Record<string, Permission> | undefined): boolean {
  const canon = (m: Record<string, Permission> | undefined) => {
    const roles = Object.keys(m ?? {}).filter((r) => !isEmpty(m![r])).sort()
    return JSON.stringify(roles.map((r) => [r, normalised(m![r])]))
  }
  return canon(a) === canon(b)
}

/**
 * otherChanges tells whether a draft differs from the published definition in more than its
 * permissions: publishing the matrix's change would publish those changes too.
 */
export function otherChanges(draft: MatrixDefinition, published: MatrixDefinition | undefined): boolean {
  if (!published) return true
  const strip = (d: MatrixDefinition) => {
    const rest = { ...d }
    delete rest.permissions
    return canonical(rest)
  }
  return strip(draft) !== strip(published)
}

/** canonical is JSON with object keys sorted, so documents compare by content. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`
  }
  return JSON.stringify(v)
}

/** CellIssue is a server error about one role's permission on one form. */
export interface CellIssue {
  role: string
  /** part is what in the permission is wrong: condition, scope, actions, hidden, readOnly. */
  part: string
  /** field is the field a hidden/readOnly entry names, when the error is about one. */
  field?: string
  message: string
}

/**
 * cellIssues turns the server's field errors on a saved definition ("/permissions/qa/condition",
 * "/permissions/qa/hidden/1") into issues per role; errors elsewhere in the definition are
 * returned as they are (rest).
 */
export function cellIssues(def: MatrixDefinition, errors: { field: string; message: string }[]): { cells: CellIssue[]; rest: { field: string; message: string }[] } {
  const cells: CellIssue[] = []
  const rest: { field: string; message: string }[] = []
  for (const e of errors) {
    const m = /^\/?permissions[/.]([^/.]+)(?:[/.]([A-Za-z]+)(?:[/.](\d+))?)?/.exec(e.field)
    if (!m) {
      rest.push(e)
      continue
    }
    const [, role, part = '', index] = m
    const list = part === 'hidden' || part === 'readOnly' ? def.permissions?.[role]?.[part] : undefined
    cells.push({ role, part, field: index !== undefined ? list?.[Number(index)] : undefined, message: e.message })
  }
  return { cells, rest }
}
