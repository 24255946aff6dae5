import { describe, expect, it } from 'vitest'
import { diffDefinitions, diffIsEmpty } from './diff'
import { fromDefinition, toDefinition, type FormDoc } from './model'
import { placeProblems, problemsAt } from './problems'
import { autoNumberSample } from './palette'

const v1: FormDoc = {
  key: 'r', name: { 'zh-CN': '收货' },
  schema: {
    type: 'object', required: ['qty'],
    properties: {
      qty: { 'x-type': 'number', 'x-label': { 'zh-CN': '数量' } },
      note: { 'x-type': 'text', 'x-label': { 'zh-CN': '备注' } },
      lines: { 'x-type': 'subtable', 'x-label': { 'zh-CN': '明细' }, items: { type: 'object', properties: {
        sku: { 'x-type': 'text', 'x-label': { 'zh-CN': '物料' } },
      } } },
    },
  },
}

describe('diffDefinitions', () => {
  it('names fields added, removed, relabelled, retyped and made optional, and columns by path', () => {
    const v2 = structuredClone(v1)
    const p = v2.schema.properties
    p.qty['x-label'] = { 'zh-CN': '数量', en: 'Qty' }
    p.qty['x-options'] = { unit: 'kg' }
    p.note['x-type'] = 'textarea'
    delete (p.lines.items as { properties: Record<string, unknown> }).properties.sku
    ;(p.lines.items as { properties: Record<string, unknown> }).properties.lot = { 'x-type': 'text', 'x-label': { 'zh-CN': '批号' } }
    p.made = { 'x-type': 'date', 'x-label': { 'zh-CN': '生产日期' } }
    v2.schema.required = []
    const d = diffDefinitions(v1, v2)
    expect(d.fields).toEqual([
      { kind: 'label', key: 'qty', label: { 'zh-CN': '数量', en: 'Qty' }, before: '数量', after: '数量 / Qty' },
      { kind: 'optional', key: 'qty', label: { 'zh-CN': '数量', en: 'Qty' } },
      { kind: 'settings', key: 'qty', label: { 'zh-CN': '数量', en: 'Qty' } },
      { kind: 'type', key: 'note', label: { 'zh-CN': '备注' }, before: 'text', after: 'textarea' },
      { kind: 'added', key: 'lines.lot', label: { 'zh-CN': '批号' }, after: 'text' },
      { kind: 'added', key: 'made', label: { 'zh-CN': '生产日期' }, after: 'date' },
      { kind: 'removed', key: 'lines.sku', label: { 'zh-CN': '物料' }, before: 'text' },
    ])
    expect(d.layout).toBe(false)
  })

  it('finds nothing between a definition and its round trip, and sees layout and rule changes', () => {
    expect(diffIsEmpty(diffDefinitions(v1, toDefinition(fromDefinition(v1))))).toBe(true)
    const v2 = { ...structuredClone(v1), layout: { columns: 2, items: [] }, permissions: { qa: { actions: ['read'], hidden: ['qty'] } } }
    const d = diffDefinitions(v1, v2)
    expect(d.layout).toBe(true)
    expect(d.permissions).toBe(true)
    expect(d.fields).toEqual([])
  })

  it('lists every field as added for a first version', () => {
    expect(diffDefinitions(undefined, v1).fields.map((c) => `${c.kind} ${c.key}`)).toEqual(['added qty', 'added note', 'added lines', 'added lines.sku'])
  })
})

describe('placeProblems', () => {
  it('puts the server\'s issues under the field and part they name, with an expression\'s line and column', () => {
    const s = fromDefinition(v1)
    const ps = placeProblems(s, [
      { field: '/schema/properties/qty/x-options/precision', code: 'option_range', message: 'out of range' },
      { field: '/schema/properties/lines/items/properties/sku/x-options/expr', code: 'expr', message: 'expression error: line 2, column 7: unknown name qtyy\n | qty +\n |       ^' },
      { field: '/key', code: 'pattern', message: 'bad key' },
      { field: '/schema/properties/gone', code: 'x', message: 'stale' },
    ])
    const qty = Object.values(s.fields).find((f) => f.key === 'qty')!.id
    const sku = Object.values(s.fields).find((f) => f.key === 'sku')!.id
    expect(problemsAt(ps, qty, 'x-options')).toEqual([{ path: 'x-options/precision', code: 'option_range', message: 'out of range' }])
    expect(problemsAt(ps, sku, 'x-options/expr')[0]).toMatchObject({ line: 2, column: 7, code: 'expr' })
    expect(ps.form.map((p) => p.path)).toEqual(['/key', '/schema/properties/gone'])
  })
})

describe('autoNumberSample', () => {
  it('shows the first number of a day', () => {
    const day = new Date(2026, 10, 5)
    expect(autoNumberSample('RM{yyMMdd}{seq:4}', day)).toBe('RM2611050001')
    expect(autoNumberSample('{yyyy}-{MM}-{seq:3}', day)).toBe('2026-11-001')
    expect(autoNumberSample('RM{yyMMdd}', day)).toBe('')
  })
})
