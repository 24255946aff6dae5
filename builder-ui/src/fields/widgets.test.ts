import { describe, expect, it } from 'vitest'
import type { Definition, FieldSchema } from '../api/types'
import {
  displayValue, emptyValues, fieldSpecs, filterKind, formLayout, listColumns, listFilters, orderedSpecs, recordPayload, sortable,
  type DisplayWords, type FieldSpec,
} from './widgets'
import { parseBracketedGS1 } from './gs1'

const zh = (s: string) => ({ 'zh-CN': s, en: s })
const opts = { options: [{ value: 'pass', label: { 'zh-CN': '合格', en: 'Pass' }, color: 'green' }, { value: 'fail', label: { 'zh-CN': '不合格', en: 'Fail' } }] }

// Every field type the engine registers (forms/field_*.go), with the widget the record form gives it.
const types: [string, FieldSchema, string][] = [
  ['text', { 'x-type': 'text', 'x-options': { placeholder: 'p' } }, 'text'],
  ['textarea', { 'x-type': 'textarea' }, 'textarea'],
  ['richtext', { 'x-type': 'richtext' }, 'textarea'],
  ['number', { 'x-type': 'number', 'x-options': { precision: 3, unit: 'kg' }, minimum: 0 }, 'number'],
  ['money', { 'x-type': 'money' }, 'money'],
  ['date', { 'x-type': 'date' }, 'date'],
  ['datetime', { 'x-type': 'datetime' }, 'datetime'],
  ['time', { 'x-type': 'time', 'x-options': { seconds: true } }, 'time'],
  ['select', { 'x-type': 'select', 'x-options': opts }, 'select'],
  ['radio', { 'x-type': 'radio', 'x-options': opts }, 'radio'],
  ['multiselect', { 'x-type': 'multiselect', 'x-options': opts }, 'multiselect'],
  ['checkbox', { 'x-type': 'checkbox', 'x-options': opts }, 'checkbox'],
  ['switch', { 'x-type': 'switch', 'x-options': { onLabel: zh('开'), offLabel: zh('关') } }, 'switch'],
  ['user', { 'x-type': 'user', 'x-options': { multiple: true } }, 'user'],
  ['department', { 'x-type': 'department' }, 'department'],
  ['relation', { 'x-type': 'relation', 'x-options': { form: 'supplier', displayField: 'name' } }, 'relation'],
  ['subtable', { 'x-type': 'subtable', items: { type: 'object', required: ['item'], properties: { item: { 'x-type': 'text' }, result: { 'x-type': 'select', 'x-options': opts } } } }, 'subtable'],
  ['autonumber', { 'x-type': 'autonumber', 'x-options': { pattern: 'RM{seq:4}' } }, 'autonumber'],
  ['formula', { 'x-type': 'formula', 'x-options': { expr: 'qty * price', result: 'number', precision: 2 } }, 'formula'],
  ['scan', { 'x-type': 'scan', 'x-options': { map: { '01': 'gtin' } } }, 'scan'],
  ['attachment', { 'x-type': 'attachment' }, 'attachment'],
  ['image', { 'x-type': 'image' }, 'attachment'],
  ['signature', { 'x-type': 'signature' }, 'signature'],
  ['location', { 'x-type': 'location', 'x-options': { coordinateSystem: 'gcj02' } }, 'location'],
]

const schema = {
  type: 'object',
  required: ['text', 'subtable'],
  properties: Object.fromEntries(types.map(([k, s]) => [k, { ...s, 'x-label': zh(k) }])),
}
const specs = fieldSpecs(schema)
const spec = (k: string) => specs.find((s) => s.key === k) as FieldSpec
const words: DisplayWords = { lang: 'zh-CN', yes: '是', no: '否', rows: (n) => `${n} 行`, files: (n) => `${n} 个文件` }

describe('fieldSpecs', () => {
  it('gives every field type its widget, in the definition order', () => {
    expect(specs.map((s) => [s.key, s.widget])).toEqual(types.map(([k, , w]) => [k, w]))
  })
  it('reads the options each widget needs', () => {
    expect(spec('text')).toMatchObject({ required: true, placeholder: 'p', generated: false })
    expect(spec('number')).toMatchObject({ precision: 3, unit: 'kg', min: 0, required: false })
    expect(spec('money')).toMatchObject({ currency: 'CNY', precision: 2 })
    expect(spec('time').seconds).toBe(true)
    expect(spec('relation')).toMatchObject({ target: 'supplier', displayField: 'name', multiple: false })
    expect(spec('location').coordinateSystem).toBe('gcj02')
    expect(spec('select').choices).toEqual([
      { value: 'pass', label: { 'zh-CN': '合格', en: 'Pass' }, color: 'green' },
      { value: 'fail', label: { 'zh-CN': '不合格', en: 'Fail' }, color: undefined },
    ])
    expect(spec('user').multiple).toBe(true)
    expect(spec('department').multiple).toBe(false)
    expect(spec('scan').scanMap).toEqual({ '01': 'gtin' })
    expect(spec('formula')).toMatchObject({ generated: true, result: 'number', precision: 2 })
    expect(spec('autonumber').generated).toBe(true)
    expect(spec('subtable').columns?.map((c) => [c.key, c.widget, c.required])).toEqual([['item', 'text', true], ['result', 'select', false]])
  })
  it('labels a field without x-label by its key', () => {
    expect(fieldSpecs({ properties: { qty: { 'x-type': 'number' } } })[0].label).toEqual({ 'zh-CN': 'qty', en: 'qty' })
  })
})

describe('formLayout', () => {
  const def: Definition = {
    key: 'f', name: zh('f'), schema,
    layout: {
      columns: 2,
      items: [
        { kind: 'field', field: 'number', span: 3 },
        { kind: 'group', label: zh('组'), columns: 3, items: [{ kind: 'field', field: 'money' }, { kind: 'field', field: 'nope' }] },
        { kind: 'tabs', tabs: [{ label: zh('页'), items: [{ kind: 'field', field: 'subtable' }] }] },
      ],
    },
  }
  it('places fields as designed, sub-tables across the row, the rest after', () => {
    const l = formLayout(def, specs)
    expect(l.columns).toBe(2)
    expect(l.items[0]).toMatchObject({ kind: 'field', span: 2 })
    expect(l.items[1]).toMatchObject({ kind: 'group', columns: 3 })
    const group = l.items[1] as { items: unknown[] }
    expect(group.items).toHaveLength(1) // the unknown field is left out
    const tabs = l.items[2] as { tabs: { items: { span: number }[] }[] }
    expect(tabs.tabs[0].items[0].span).toBe(2)
    expect(l.items).toHaveLength(3 + specs.length - 3)
  })
  it('is one column on a phone', () => {
    const l = formLayout(def, specs, true)
    expect(l.columns).toBe(1)
    expect((l.items[1] as { columns: number }).columns).toBe(1)
    expect(l.items.every((n) => n.kind !== 'field' || n.span === 1)).toBe(true)
  })
  it('orders the fields as the layout shows them', () => {
    expect(orderedSpecs(def, specs).slice(0, 3).map((s) => s.key)).toEqual(['number', 'money', 'subtable'])
  })
})

describe('recordPayload', () => {
  it('sends what was entered on a create, never the generated fields', () => {
    const v = { ...emptyValues(specs), text: '  小麦粉 ', number: 12.5, formula: 99, autonumber: 'X', subtable: [{ item: '水分', result: '' }] }
    expect(recordPayload(specs, v)).toEqual({ text: '小麦粉', number: 12.5, switch: false, subtable: [{ item: '水分' }] })
  })
  it('sends only the changes on an update, null for a cleared value', () => {
    const before = { text: 'a', number: 1, select: 'pass', multiselect: ['pass'] }
    const after = { ...before, text: 'b', select: '', multiselect: ['pass'] }
    expect(recordPayload(specs, after, before)).toEqual({ text: 'b', select: null })
  })
  it('starts a new record empty, with defaults', () => {
    const v = emptyValues(fieldSpecs({ properties: { n: { 'x-type': 'number', default: 3 }, m: { 'x-type': 'multiselect' }, f: { 'x-type': 'formula' } } }))
    expect(v).toEqual({ n: 3, m: [] })
  })
})

describe('displayValue', () => {
  it('shows values as people read them', () => {
    expect(displayValue(spec('select'), 'pass', words)).toBe('合格')
    expect(displayValue(spec('select'), 'pass', { ...words, lang: 'en' })).toBe('Pass')
    expect(displayValue(spec('multiselect'), ['pass', 'fail'], words)).toBe('合格, 不合格')
    expect(displayValue(spec('number'), 1200, words)).toBe('1,200.000 kg')
    expect(displayValue(spec('money'), 3.5, words)).toBe('¥3.50')
    expect(displayValue(spec('switch'), true, words)).toBe('开')
    expect(displayValue(spec('subtable'), [{}, {}], words)).toBe('2 行')
    expect(displayValue(spec('attachment'), ['a'], words)).toBe('1 个文件')
    expect(displayValue(spec('formula'), 4200, words)).toBe('4,200.00')
    expect(displayValue(spec('text'), '', words)).toBe('')
    expect(displayValue(spec('location'), { lat: 31.2, lng: 121.5 }, words)).toBe('31.2, 121.5')
    expect(displayValue(spec('signature'), 'f-1', { ...words, signed: '已签名' })).toBe('已签名')
    expect(displayValue(spec('signature'), '', { ...words, signed: '已签名' })).toBe('')
  })
})

describe('signature', () => {
  // forms/field_signature.go: the value is one file id (a string), cleared with null.
  it('sends the id of the uploaded PNG, and null when an edit clears it', () => {
    const sig = [spec('signature')]
    expect(emptyValues(sig)).toEqual({ signature: '' })
    expect(recordPayload(sig, { signature: '' })).toEqual({})
    expect(recordPayload(sig, { signature: 'f-1' })).toEqual({ signature: 'f-1' })
    expect(recordPayload(sig, { signature: '' }, { signature: 'f-1' })).toEqual({ signature: null })
    expect(recordPayload(sig, { signature: 'f-2' }, { signature: 'f-1' })).toEqual({ signature: 'f-2' })
  })
  it('is a list column that cannot be sorted or filtered', () => {
    expect(listColumns(specs).map((s) => s.key)).toContain('signature')
    expect(sortable(spec('signature'))).toBe(false)
    expect(filterKind(spec('signature'))).toBeUndefined()
  })
})

describe('filters', () => {
  it('gives each filterable type its input and query', () => {
    expect(filterKind(spec('subtable'))).toBeUndefined()
    expect(listFilters(spec('text'), { kind: 'text', value: ' 粉 ' })).toEqual([{ field: 'text', op: 'contains', value: '粉' }])
    expect(listFilters(spec('number'), { kind: 'range', min: 1, max: null })).toEqual([{ field: 'number', op: 'gte', value: 1 }])
    expect(listFilters(spec('select'), { kind: 'choice', values: ['pass'] })).toEqual([{ field: 'select', op: 'in', value: ['pass'] }])
    expect(listFilters(spec('date'), { kind: 'dateRange', from: '2026-01-01', to: '2026-01-31' })).toEqual([
      { field: 'date.day', op: 'between', value: ['2026-01-01', '2026-01-31'] },
    ])
    expect(listFilters(spec('switch'), { kind: 'bool', value: false })).toEqual([{ field: 'switch', op: 'eq', value: false }])
    expect(listFilters(spec('text'), { kind: 'text', value: '  ' })).toEqual([])
  })
  it('lists as columns the fields a cell can show', () => {
    expect(listColumns(specs).map((s) => s.key)).not.toContain('subtable')
    expect(listColumns(specs).map((s) => s.key)).toContain('formula')
  })
})

describe('parseBracketedGS1', () => {
  it('splits an element string in brackets', () => {
    expect(parseBracketedGS1('(01)09501101530003(17)261231(10)LOT-7')).toEqual([
      { ai: '01', value: '09501101530003' }, { ai: '17', value: '261231' }, { ai: '10', value: 'LOT-7' },
    ])
  })
  it('leaves other text alone', () => {
    expect(parseBracketedGS1('LOT-7')).toEqual([])
    expect(parseBracketedGS1('(01)0950(1')).toEqual([])
  })
})
