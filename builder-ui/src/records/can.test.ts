import { describe, expect, it } from 'vitest'
import { bulkActions, may, mayDesign, navForms, takeable } from './can'
import type { Transition } from './bulk'

const transitions: Transition[] = [
  { key: 'submit', label: { 'zh-CN': '提交' }, from: ['draft'], to: 'submitted' },
  { key: 'approve', label: { 'zh-CN': '批准' }, from: ['submitted'], to: 'approved', roles: ['qa'] },
]

describe('may', () => {
  it('holds only the actions the server lists', () => {
    const reader = { can: ['read', 'export'] }
    expect(may(reader, 'read')).toBe(true)
    expect(may(reader, 'export')).toBe(true)
    for (const a of ['create', 'update', 'delete', 'import'] as const) expect(may(reader, a)).toBe(false)
  })
  it('assumes nothing when the answer says nothing', () => {
    expect(may(undefined, 'read')).toBe(false)
    expect(may({}, 'create')).toBe(false)
    expect(may({ can: [] }, 'read')).toBe(false)
  })
})

describe('mayDesign', () => {
  it('is the app’s design action', () => {
    expect(mayDesign({ can: ['read', 'design'] })).toBe(true)
    expect(mayDesign({ can: ['read'] })).toBe(false)
    expect(mayDesign(null)).toBe(false)
  })
})

describe('takeable', () => {
  it('keeps the transitions the caller may take, in the form’s order', () => {
    expect(takeable({ canTransitions: ['approve', 'submit'] }, transitions).map((t) => t.key)).toEqual(['submit', 'approve'])
    expect(takeable({ canTransitions: ['submit'] }, transitions).map((t) => t.key)).toEqual(['submit'])
    expect(takeable({}, transitions)).toEqual([])
    expect(takeable({ canTransitions: ['submit'] }, undefined)).toEqual([])
  })
})

describe('bulkActions', () => {
  it('offers choosing rows only to someone who may delete or take a transition', () => {
    expect(bulkActions({ can: ['read'], canTransitions: [] }, transitions)).toBe(false)
    expect(bulkActions({ can: ['read', 'delete'], canTransitions: [] }, transitions)).toBe(true)
    expect(bulkActions({ can: ['read', 'update'], canTransitions: ['submit'] }, transitions)).toBe(true)
    // A transition the form no longer has offers nothing.
    expect(bulkActions({ can: ['read', 'update'], canTransitions: ['gone'] }, transitions)).toBe(false)
  })
})

describe('navForms', () => {
  const forms = [
    { key: 'lot', published: 2, can: ['read'] },
    { key: 'draft', published: 0, can: [] },
    { key: 'other', published: 1, can: [] },
    { key: 'fill', published: 1, can: ['create'] },
  ]
  it('lists every form, drafts too, for a designer', () => {
    expect(navForms(forms, true).map((f) => f.key)).toEqual(['lot', 'draft', 'other', 'fill'])
  })
  it('lists the published forms someone else may use', () => {
    expect(navForms(forms, false).map((f) => f.key)).toEqual(['lot', 'fill'])
  })
})
