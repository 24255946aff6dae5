import { describe, expect, it } from 'vitest'
import {
  canonical, cellIssues, fieldsOf, otherChanges, permissionOf, permissionsOf, ruleOf, samePermissions, setAction, setRule,
  setScope, withPermissions, withRole, type MatrixDefinition,
} from './matrix'

const def = (): MatrixDefinition => ({
  key: 'receipt',
  name: { 'zh-CN': '原料收货', en: 'Receipt' },
  schema: { properties: { material: { 'x-type': 'text', 'x-label': { 'zh-CN': '原料' } }, price: { 'x-type': 'money' }, note: { 'x-type': 'textarea' } } },
  permissions: {
    qc: { actions: ['read', 'update'], scope: 'department', hidden: ['price'], readOnly: ['material'] },
    auditor: { actions: ['read', 'export'], scope: 'expr', condition: 'status == "released"' },
  },
  layout: { items: [{ kind: 'field', field: 'material' }] },
})

describe('permission matrix model', () => {
  it('round-trips a definition unchanged: definition → matrix → definition', () => {
    const d = def()
    const back = withPermissions(d, permissionsOf(d))
    expect(back).toEqual(d)
    expect(Object.keys(back)).toEqual(Object.keys(d))
    expect(canonical(back)).toBe(canonical(def()))
  })

  it('edits a copy, never the definition it read', () => {
    const d = def()
    const perms = permissionsOf(d)
    perms.qc = setRule(perms.qc, 'note', 'hidden')
    expect(d.permissions!.qc.hidden).toEqual(['price'])
  })

  it('grants and takes away actions in the matrix order', () => {
    let p = permissionOf({}, 'clerk')
    p = setAction(p, 'export', true)
    p = setAction(p, 'create', true)
    p = setAction(p, 'read', true)
    expect(p.actions).toEqual(['create', 'read', 'export'])
    p = setAction(p, 'create', false)
    expect(p.actions).toEqual(['read', 'export'])
  })

  it('sets field rules: hidden and read-only exclude each other; edit clears both', () => {
    let p = permissionOf(def().permissions!, 'qc')
    p = setRule(p, 'material', 'hidden')
    expect(ruleOf(p, 'material')).toBe('hidden')
    expect(p.readOnly).toBeUndefined()
    p = setRule(p, 'price', 'readOnly')
    expect(p.hidden).toEqual(['material'])
    expect(p.readOnly).toEqual(['price'])
    p = setRule(setRule(p, 'material', 'edit'), 'price', 'edit')
    expect(p.hidden).toBeUndefined()
    expect(p.readOnly).toBeUndefined()
  })

  it('drops the condition when the scope leaves expr, and scope all from the document', () => {
    let p = permissionOf(def().permissions!, 'auditor')
    p = setScope(p, 'own')
    expect(p).toEqual({ actions: ['read', 'export'], scope: 'own' })
    p = setScope(p, 'all')
    expect(p.scope).toBeUndefined()
    p = setScope(p, 'expr', 'qty > 0')
    expect(p.condition).toBe('qty > 0')
  })

  it('leaves out a role that grants nothing, and the member when no role is left', () => {
    const d = def()
    let perms = permissionsOf(d)
    perms = withRole(perms, 'qc', { actions: [] })
    expect(Object.keys(perms)).toEqual(['auditor'])
    perms = withRole(perms, 'auditor', setAction(setAction(setScope(perms.auditor, 'all'), 'read', false), 'export', false))
    const out = withPermissions(d, perms)
    expect('permissions' in out).toBe(false)
    expect(out.layout).toBe(d.layout)
  })

  it('compares permissions by meaning', () => {
    const a = def().permissions!
    const b = { auditor: { ...a.auditor }, qc: { ...a.qc, scope: 'department' }, idle: { actions: [] } }
    expect(samePermissions(a, b)).toBe(true)
    expect(samePermissions(a, { ...b, qc: setRule(b.qc, 'note', 'hidden') })).toBe(false)
    expect(samePermissions(undefined, {})).toBe(true)
    expect(samePermissions({ x: { actions: ['read'], scope: 'all' } }, { x: { actions: ['read'] } })).toBe(true)
  })

  it('tells when a draft holds other unpublished changes', () => {
    const published = def()
    const draft = withPermissions(def(), {})
    expect(otherChanges(draft, published)).toBe(false)
    expect(otherChanges({ ...draft, name: { 'zh-CN': '收货' } }, published)).toBe(true)
    expect(otherChanges(draft, undefined)).toBe(true)
  })

  it('lists the top-level fields in schema order', () => {
    expect(fieldsOf(def()).map((f) => f.key)).toEqual(['material', 'price', 'note'])
  })

  it('places the server’s errors on the role and field they name', () => {
    const { cells, rest } = cellIssues(def(), [
      { field: '/permissions/auditor/condition', message: 'unknown name qtyy' },
      { field: '/permissions/qc/hidden/0', message: 'not found' },
      { field: '/schema/properties/x', message: 'bad' },
    ])
    expect(cells).toEqual([
      { role: 'auditor', part: 'condition', field: undefined, message: 'unknown name qtyy' },
      { role: 'qc', part: 'hidden', field: 'price', message: 'not found' },
    ])
    expect(rest).toEqual([{ field: '/schema/properties/x', message: 'bad' }])
  })
})
