import { describe, expect, it } from 'vitest'
import type { FieldSchema } from '../api/types'
import {
  ROOT, addColumn, addField, addLayout, addRole, addTab, containerOf, fieldByKey, fromDefinition, isRequired,
  keyProblem, layoutIsImplied, moveColumn, moveNode, nodeOfField, removeColumn, removeNode, removeTab, renameField,
  setColumns, setFieldRule, setKeyword, setNodeProp, setOption, setRequired, setTabLabel, toDefinition,
  type DesignerState, type FormDoc,
} from './model'
import { newField, paletteItems, type Words } from './palette'

// One field of every type the engine has (forms/field_*.go), with the options each takes.
const everyType: Record<string, FieldSchema> = {
  text: { 'x-type': 'text', 'x-label': { 'zh-CN': '单行文本', en: 'Text' }, maxLength: 50, pattern: '^[A-Z]', 'x-options': { placeholder: { 'zh-CN': '请输入', en: 'Type' } } },
  textarea: { 'x-type': 'textarea', 'x-label': { 'zh-CN': '多行文本' }, minLength: 2 },
  number: { 'x-type': 'number', 'x-label': { 'zh-CN': '数量', en: 'Qty' }, minimum: 0, maximum: 1000, 'x-options': { precision: 3, unit: 'kg', thousands: true } },
  money: { 'x-type': 'money', 'x-label': { 'zh-CN': '单价' }, 'x-options': { currency: 'USD', precision: 4 } },
  date: { 'x-type': 'date', 'x-label': { 'zh-CN': '日期' }, 'x-public': true },
  datetime: { 'x-type': 'datetime', 'x-label': { 'zh-CN': '日期时间' }, description: 'when it arrived' },
  time: { 'x-type': 'time', 'x-label': { 'zh-CN': '时间' }, 'x-options': { seconds: true } },
  select: {
    'x-type': 'select', 'x-label': { 'zh-CN': '结果' },
    'x-options': { options: [{ value: 'pass', label: { 'zh-CN': '合格', en: 'Pass' }, color: 'green' }, { value: 'fail', label: { 'zh-CN': '不合格' } }] },
  },
  radio: { 'x-type': 'radio', 'x-label': { 'zh-CN': '单选' }, 'x-options': { options: [{ value: 'a', label: { 'zh-CN': 'A' } }] } },
  multiselect: { 'x-type': 'multiselect', 'x-label': { 'zh-CN': '过敏原' }, 'x-options': { options: [{ value: 'nut', label: { 'zh-CN': '花生' } }], minSelected: 1, maxSelected: 1 } },
  checkbox: { 'x-type': 'checkbox', 'x-label': { 'zh-CN': '复选' }, 'x-options': { options: [{ value: 'x', label: { 'zh-CN': 'X' } }] } },
  switch: { 'x-type': 'switch', 'x-label': { 'zh-CN': '开关' }, 'x-options': { onLabel: { 'zh-CN': '合格' }, offLabel: { 'zh-CN': '不合格' } } },
  user: { 'x-type': 'user', 'x-label': { 'zh-CN': '成员' }, 'x-options': { multiple: true }, minItems: 1 },
  department: { 'x-type': 'department', 'x-label': { 'zh-CN': '部门' } },
  relation: { 'x-type': 'relation', 'x-label': { 'zh-CN': '原料批次' }, 'x-options': { form: 'lot', lineage: 'input', quantityField: 'number', displayField: 'lot_no' } },
  subtable: {
    'x-type': 'subtable', 'x-label': { 'zh-CN': '明细' }, 'x-options': { minRows: 1, maxRows: 50 },
    items: {
      type: 'object', required: ['qty', 'item'],
      properties: {
        item: { 'x-type': 'text', 'x-label': { 'zh-CN': '项目' } },
        qty: { 'x-type': 'number', 'x-label': { 'zh-CN': '数量' } },
        line: { 'x-type': 'formula', 'x-label': { 'zh-CN': '小计' }, 'x-options': { expr: 'qty * parent.money', result: 'number' } },
      },
    },
  },
  autonumber: { 'x-type': 'autonumber', 'x-label': { 'zh-CN': '批次号' }, 'x-options': { pattern: 'RM{yyMMdd}{seq:4}', reset: 'day' } },
  formula: { 'x-type': 'formula', 'x-label': { 'zh-CN': '金额' }, 'x-options': { expr: 'number * money', result: 'number', precision: 2 } },
  scan: { 'x-type': 'scan', 'x-label': { 'zh-CN': '扫码' }, 'x-options': { map: { '01': 'text', '17': 'date' }, requireGS1: true } },
  attachment: { 'x-type': 'attachment', 'x-label': { 'zh-CN': '附件' }, 'x-options': { maxFiles: 3, accept: ['application/pdf'] } },
  image: { 'x-type': 'image', 'x-label': { 'zh-CN': '图片' }, minItems: 1 },
  signature: { 'x-type': 'signature', 'x-label': { 'zh-CN': '签名' }, 'x-options': { maxSize: 100000 } },
  location: { 'x-type': 'location', 'x-label': { 'zh-CN': '定位' }, 'x-options': { coordinateSystem: 'gcj02' } },
  richtext: { 'x-type': 'richtext', 'x-label': { 'zh-CN': '富文本' }, 'x-options': { maxLength: 5000 } },
}

const allTypes = Object.keys(everyType)

function oneFieldForm(type: string, withLayout: boolean): FormDoc {
  const def: FormDoc = {
    key: 'f', name: { 'zh-CN': '表' },
    schema: { type: 'object', properties: { [type]: structuredClone(everyType[type]) } },
  }
  if (withLayout) def.layout = { columns: 2, items: [{ kind: 'field', field: type, span: 2 }] }
  return def
}

// The receipt of docs/forms.md with a tabs item added: every layout kind, status and permissions.
const receipt: FormDoc = {
  key: 'receipt',
  name: { 'zh-CN': '原料收货', en: 'Raw material receipt' },
  group: { 'zh-CN': '采购与来料', en: 'Purchasing' },
  titleField: 'lot_no',
  schema: {
    type: 'object',
    required: ['supplier', 'qty'],
    properties: {
      lot_no: everyType.autonumber,
      supplier: { 'x-type': 'relation', 'x-label': { 'zh-CN': '供应商', en: 'Supplier' }, 'x-options': { form: 'supplier' } },
      qty: { 'x-type': 'number', 'x-label': { 'zh-CN': '数量', en: 'Quantity' }, 'x-options': { precision: 2, unit: 'kg' }, minimum: 0 },
      price: { 'x-type': 'money', 'x-label': { 'zh-CN': '单价', en: 'Unit price' } },
      amount: { 'x-type': 'formula', 'x-label': { 'zh-CN': '金额', en: 'Amount' }, 'x-options': { expr: 'qty * price', result: 'number', precision: 2 } },
      note: { 'x-type': 'textarea', 'x-label': { 'zh-CN': '备注' } },
      checks: everyType.subtable,
    },
  },
  layout: {
    columns: 2,
    items: [
      { kind: 'field', field: 'lot_no' }, { kind: 'field', field: 'supplier' },
      { kind: 'group', label: { 'zh-CN': '数量与金额', en: 'Quantity' }, columns: 3, items: [
        { kind: 'field', field: 'qty' }, { kind: 'field', field: 'price' }, { kind: 'field', field: 'amount' }] },
      { kind: 'tabs', tabs: [
        { label: { 'zh-CN': '检验' }, items: [{ kind: 'field', field: 'checks', span: 2 }] },
        { label: { 'zh-CN': '其他' }, items: [{ kind: 'field', field: 'note' }] }] },
    ],
  },
  status: {
    initial: 'pending',
    states: [{ key: 'pending', label: { 'zh-CN': '待检' }, color: 'amber' }],
    transitions: [],
  },
  permissions: {
    clerk: { actions: ['create', 'read'], scope: 'own', readOnly: ['price'] },
    guest: { actions: ['read'], hidden: ['price', 'amount'] },
  },
}

const words: Words = {
  typeLabel: (t) => ({ 'zh-CN': `字段 ${t}`, en: `Field ${t}` }),
  option: (n) => ({ 'zh-CN': `选项${n}`, en: `Option ${n}` }),
  column: { 'zh-CN': '项目', en: 'Item' },
}

const keysOf = (d: FormDoc) => Object.keys(d.schema.properties)
const rootKeys = (s: DesignerState) => s.containers[ROOT].map((n) => {
  const node = s.nodes[n]
  return node.kind === 'field' ? s.fields[node.field].key : node.kind
})

describe('round trip: definition → designer state → definition', () => {
  it.each(allTypes)('keeps a %s field as it is, without a layout', (type) => {
    const def = oneFieldForm(type, false)
    const s = fromDefinition(structuredClone(def))
    expect(toDefinition(s)).toStrictEqual(def)
    // and state → definition → state gives the same state
    expect(fromDefinition(toDefinition(s))).toStrictEqual(s)
  })

  it.each(allTypes)('keeps a %s field as it is, with a layout', (type) => {
    const def = oneFieldForm(type, true)
    const s = fromDefinition(structuredClone(def))
    expect(toDefinition(s)).toStrictEqual(def)
    expect(fromDefinition(toDefinition(s))).toStrictEqual(s)
  })

  it('keeps a form with every field type, groups, tabs, status and permissions', () => {
    const props: Record<string, FieldSchema> = {}
    for (const t of allTypes) props[t] = structuredClone(everyType[t])
    const def: FormDoc = {
      key: 'all', name: { 'zh-CN': '全部', en: 'All' }, description: { 'zh-CN': '说明' },
      schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', required: ['text', 'number'], properties: props },
      layout: {
        columns: 4,
        items: [
          { kind: 'group', label: { 'zh-CN': '基础' }, columns: 2, items: allTypes.slice(0, 8).map((f) => ({ kind: 'field' as const, field: f })) },
          { kind: 'tabs', tabs: [
            { label: { 'zh-CN': '一' }, items: allTypes.slice(8, 16).map((f) => ({ kind: 'field' as const, field: f, span: 2 })) },
            { label: { 'zh-CN': '二' }, items: [{ kind: 'group', items: allTypes.slice(16).map((f) => ({ kind: 'field' as const, field: f })) }] }] },
        ],
      },
    }
    const s = fromDefinition(structuredClone(def))
    expect(toDefinition(s)).toStrictEqual(def)
    expect(fromDefinition(toDefinition(s))).toStrictEqual(s)
  })

  it('keeps the receipt of docs/forms.md', () => {
    const s = fromDefinition(structuredClone(receipt))
    expect(toDefinition(s)).toStrictEqual(receipt)
    expect(fromDefinition(toDefinition(s))).toStrictEqual(s)
    expect(JSON.stringify(toDefinition(s))).toBe(JSON.stringify(receipt))
  })

  it('places fields a layout leaves out after it, as the record form shows them', () => {
    const def = structuredClone(receipt)
    def.layout!.items = def.layout!.items.slice(0, 2)
    const s = fromDefinition(def)
    expect(rootKeys(s)).toEqual(['lot_no', 'supplier', 'qty', 'price', 'amount', 'note', 'checks'])
    const out = toDefinition(s)
    expect(out.layout!.items.map((i) => i.field)).toEqual(['lot_no', 'supplier', 'qty', 'price', 'amount', 'note', 'checks'])
  })
})

describe('round trip of edited states', () => {
  it('gives back a definition that reads into the same canvas (every palette type added)', () => {
    let s = fromDefinition({ key: 'n', name: { 'zh-CN': '新表' }, schema: { type: 'object', properties: {} } })
    const g = addLayout(s, 'group', { container: ROOT, index: 0 }, { label: { 'zh-CN': '组' }, columns: 2 })
    s = g.state
    const tabs = addLayout(s, 'tabs', { container: ROOT, index: 1 }, {}, [{ 'zh-CN': '甲' }, { 'zh-CN': '乙' }])
    s = tabs.state
    const tabIds = (s.nodes[tabs.node] as unknown as { tabs: { id: string }[] }).tabs.map((t) => t.id)
    allTypes.forEach((t, i) => {
      const place = [{ container: ROOT, index: Infinity }, { container: g.node, index: 0 }, { container: tabIds[i % 2], index: 1 }][i % 3]
      s = addField(s, newField(t, words), place).state
    })
    const def = toDefinition(s)
    expect(keysOf(def).sort()).toEqual(allTypes.map((t) => `${t}_1`).sort())
    for (const t of allTypes) expect(def.schema.properties[`${t}_1`]['x-type']).toBe(t)
    const again = fromDefinition(def)
    expect(toDefinition(again)).toStrictEqual(def)
    expect(fromDefinition(toDefinition(again))).toStrictEqual(again)
  })
})

describe('adding fields', () => {
  const empty = () => fromDefinition({ key: 'n', name: { 'zh-CN': '新表' }, schema: { type: 'object', properties: {} } })

  it.each(allTypes)('adds a %s field that the definition carries with what its type needs', (type) => {
    const { state, field } = addField(empty(), newField(type, words), { container: ROOT, index: 0 })
    const def = toDefinition(state)
    const p = def.schema.properties[state.fields[field].key]
    expect(p['x-type']).toBe(type)
    expect(p['x-label']).toEqual({ 'zh-CN': `字段 ${type}`, en: `Field ${type}` })
    if (['select', 'radio', 'multiselect', 'checkbox'].includes(type)) expect((p['x-options'] as { options: unknown[] }).options).toHaveLength(3)
    if (type === 'autonumber') expect(p['x-options']).toEqual({ pattern: 'NO{yyMMdd}{seq:4}', reset: 'day' })
    if (type === 'subtable') expect(Object.keys((p.items as { properties: object }).properties)).toEqual(['item'])
    // A form of fields in a row needs no layout.
    expect(def.layout).toBeUndefined()
  })

  it('chooses keys that are free, and keeps a given key when it is', () => {
    let s = empty()
    s = addField(s, newField('text', words), { container: ROOT, index: 9 }).state
    s = addField(s, newField('text', words), { container: ROOT, index: 9 }).state
    s = addField(s, { ...newField('text', words), key: 'lot_no' }, { container: ROOT, index: 9 }).state
    s = addField(s, { ...newField('text', words), key: 'lot_no' }, { container: ROOT, index: 9 }).state
    expect(keysOf(toDefinition(s))).toEqual(['text_1', 'text_2', 'lot_no', 'text_3'])
  })

  it('places a field where it is dropped and keeps the property order the reading order', () => {
    let s = fromDefinition(structuredClone(receipt))
    const group = containerOf(s, nodeOfField(s, fieldByKey(s, 'qty')!.id)!)!
    s = addField(s, { ...newField('date', words), key: 'made_on' }, { container: group, index: 1 }).state
    const def = toDefinition(s)
    expect(def.layout!.items[2].items!.map((i) => i.field)).toEqual(['qty', 'made_on', 'price', 'amount'])
    expect(keysOf(def)).toEqual(['lot_no', 'supplier', 'qty', 'made_on', 'price', 'amount', 'checks', 'note'])
  })

  it('adds a sub-table column, and refuses a sub-table inside a sub-table', () => {
    let s = fromDefinition(structuredClone(receipt))
    const checks = fieldByKey(s, 'checks')!.id
    s = addColumn(s, checks, newField('select', words), 1).state
    const before = s
    expect(addColumn(s, checks, newField('subtable', words), 0).state).toBe(before)
    const items = toDefinition(s).schema.properties.checks.items as { properties: Record<string, FieldSchema> }
    expect(Object.keys(items.properties)).toEqual(['item', 'select_1', 'qty', 'line'])
  })

  it('adds groups and tabs, and tabs can be added, renamed and removed', () => {
    let s = empty()
    const t = addLayout(s, 'tabs', { container: ROOT, index: 0 }, {}, [{ 'zh-CN': '一' }])
    s = addTab(t.state, t.node, { 'zh-CN': '二' })
    const node = s.nodes[t.node] as unknown as { tabs: { id: string }[] }
    s = addField(s, newField('text', words), { container: node.tabs[1].id, index: 0 }).state
    s = setTabLabel(s, t.node, node.tabs[0].id, { 'zh-CN': '甲', en: 'A' })
    expect(toDefinition(s).layout!.items[0].tabs!.map((x) => x.label)).toEqual([{ 'zh-CN': '甲', en: 'A' }, { 'zh-CN': '二' }])
    s = removeTab(s, t.node, node.tabs[1].id)
    expect(toDefinition(s).layout!.items[0].tabs).toEqual([{ label: { 'zh-CN': '甲', en: 'A' }, items: [{ kind: 'field', field: 'text_1' }] }])
  })
})

describe('moving', () => {
  it('reorders the root, keeps other fields untouched, and writes the layout', () => {
    const def = { key: 'm', name: { 'zh-CN': 'm' }, schema: { type: 'object', properties: { a: everyType.text, b: everyType.number, c: everyType.date } } }
    const s0 = fromDefinition(def)
    expect(layoutIsImplied(s0)).toBe(true)
    const a = nodeOfField(s0, fieldByKey(s0, 'a')!.id)!
    const s1 = moveNode(s0, a, { container: ROOT, index: 2 })
    expect(rootKeys(s1)).toEqual(['b', 'c', 'a'])
    expect(keysOf(toDefinition(s1))).toEqual(['b', 'c', 'a'])
    // Fields are shared with the state before: the canvas re-renders none of them.
    for (const id of s0.order) expect(s1.fields[id]).toBe(s0.fields[id])
    // Property order follows the reading order, so the definition needs no layout.
    expect(toDefinition(s1).layout).toBeUndefined()
    // A move to where it is changes nothing.
    expect(moveNode(s1, a, { container: ROOT, index: 2 })).toBe(s1)
  })

  it('moves fields into and out of groups and tabs', () => {
    let s = fromDefinition(structuredClone(receipt))
    const lot = nodeOfField(s, fieldByKey(s, 'lot_no')!.id)!
    const group = containerOf(s, nodeOfField(s, fieldByKey(s, 'qty')!.id)!)!
    s = moveNode(s, lot, { container: group, index: 3 })
    let def = toDefinition(s)
    expect(def.layout!.items[1].items!.map((i) => i.field)).toEqual(['qty', 'price', 'amount', 'lot_no'])
    expect(keysOf(def)[0]).toBe('supplier')
    const note = nodeOfField(s, fieldByKey(s, 'note')!.id)!
    s = moveNode(s, note, { container: ROOT, index: 0 })
    def = toDefinition(s)
    expect(def.layout!.items[0]).toEqual({ kind: 'field', field: 'note' })
    expect(def.layout!.items[3].tabs![1].items).toEqual([])
  })

  it('does not put a group inside itself or its tabs', () => {
    let s = fromDefinition({ key: 'm', name: { 'zh-CN': 'm' }, schema: { type: 'object', properties: {} } })
    const outer = addLayout(s, 'group', { container: ROOT, index: 0 }, {})
    const inner = addLayout(outer.state, 'group', { container: outer.node, index: 0 }, {})
    s = inner.state
    expect(moveNode(s, outer.node, { container: outer.node, index: 0 })).toBe(s)
    expect(moveNode(s, outer.node, { container: inner.node, index: 0 })).toBe(s)
    expect(containerOf(moveNode(s, inner.node, { container: ROOT, index: 0 }), inner.node)).toBe(ROOT)
  })

  it('reorders a sub-table\'s columns', () => {
    let s = fromDefinition(structuredClone(receipt))
    const checks = fieldByKey(s, 'checks')!.id
    s = moveColumn(s, checks, 0, 2)
    const items = toDefinition(s).schema.properties.checks.items as { properties: object; required: string[] }
    expect(Object.keys(items.properties)).toEqual(['qty', 'line', 'item'])
    expect(items.required).toEqual(['qty', 'item'])
    expect(moveColumn(s, checks, 1, 1)).toBe(s)
  })
})

describe('removing', () => {
  it('removes a field and every reference to it', () => {
    let s = fromDefinition(structuredClone(receipt))
    s = removeNode(s, nodeOfField(s, fieldByKey(s, 'price')!.id)!)
    s = removeNode(s, nodeOfField(s, fieldByKey(s, 'supplier')!.id)!)
    s = removeNode(s, nodeOfField(s, fieldByKey(s, 'lot_no')!.id)!)
    const def = toDefinition(s)
    expect(keysOf(def)).toEqual(['qty', 'amount', 'note', 'checks'])
    expect(def.schema.required).toEqual(['qty'])
    expect(def.titleField).toBeUndefined()
    expect(def.permissions).toEqual({ clerk: { actions: ['create', 'read'], scope: 'own' }, guest: { actions: ['read'], hidden: ['amount'] } })
  })

  it('removes a group with its fields, and a tabs item with all its tabs', () => {
    let s = fromDefinition(structuredClone(receipt))
    s = removeNode(s, containerOf(s, nodeOfField(s, fieldByKey(s, 'qty')!.id)!)!)
    expect(keysOf(toDefinition(s))).toEqual(['lot_no', 'supplier', 'note', 'checks'])
    const tabs = s.containers[ROOT].find((n) => s.nodes[n].kind === 'tabs')!
    s = removeNode(s, tabs)
    expect(keysOf(toDefinition(s))).toEqual(['lot_no', 'supplier'])
    expect(Object.keys(s.fields)).toHaveLength(2) // the sub-table's columns went too
    expect(Object.keys(s.containers)).toEqual([ROOT])
  })

  it('removes a column and its required entry', () => {
    let s = fromDefinition(structuredClone(receipt))
    const checks = fieldByKey(s, 'checks')!.id
    s = removeColumn(s, fieldByKey(s, 'qty', checks)!.id)
    const items = toDefinition(s).schema.properties.checks.items as { properties: object; required: string[] }
    expect(Object.keys(items.properties)).toEqual(['item', 'line'])
    expect(items.required).toEqual(['item'])
  })
})

describe('properties', () => {
  it('renames a field with its references', () => {
    let s = fromDefinition(structuredClone({
      ...receipt,
      schema: { ...receipt.schema, properties: { ...receipt.schema.properties, code: everyType.scan, text: everyType.text } },
    }))
    const price = fieldByKey(s, 'price')!.id
    expect(keyProblem(s, price, 'qty')).toBe('taken')
    expect(keyProblem(s, price, 'Price')).toBe('pattern')
    expect(keyProblem(s, price, 'status')).toBe('reserved')
    expect(renameField(s, price, 'qty')).toBe(s)
    s = renameField(s, price, 'unit_price')
    s = renameField(s, fieldByKey(s, 'lot_no')!.id, 'lot')
    s = renameField(s, fieldByKey(s, 'text')!.id, 'gtin')
    const def = toDefinition(s)
    expect(keysOf(def)).toContain('unit_price')
    expect(def.titleField).toBe('lot')
    expect(def.permissions!.guest.hidden).toEqual(['unit_price', 'amount'])
    expect(def.layout!.items[2].items![1]).toEqual({ kind: 'field', field: 'unit_price' })
    expect(def.schema.properties.code['x-options']).toEqual({ map: { '01': 'gtin', '17': 'date' }, requireGS1: true })
  })

  it('sets required, options, keywords and layout props', () => {
    let s = fromDefinition(structuredClone(receipt))
    const note = fieldByKey(s, 'note')!.id
    s = setRequired(s, note, true)
    expect(isRequired(s, s.fields[note])).toBe(true)
    s = setRequired(s, fieldByKey(s, 'qty')!.id, false)
    s = setOption(s, note, 'placeholder', { 'zh-CN': '写点什么' })
    s = setKeyword(s, note, 'maxLength', 300)
    s = setKeyword(s, note, 'x-public', true)
    s = setNodeProp(s, nodeOfField(s, note)!, 'span', 2)
    s = setColumns(s, 3)
    let def = toDefinition(s)
    expect(def.schema.required).toEqual(['supplier', 'note'])
    expect(def.schema.properties.note).toEqual({
      'x-type': 'textarea', 'x-label': { 'zh-CN': '备注' }, 'x-options': { placeholder: { 'zh-CN': '写点什么' } }, maxLength: 300, 'x-public': true,
    })
    expect(def.layout!.columns).toBe(3)
    expect(def.layout!.items[3].tabs![1].items[0]).toEqual({ kind: 'field', field: 'note', span: 2 })
    s = setOption(s, note, 'placeholder', undefined)
    s = setKeyword(s, note, 'x-public', false)
    s = setColumns(s, 1)
    def = toDefinition(s)
    expect(def.schema.properties.note).toEqual({ 'x-type': 'textarea', 'x-label': { 'zh-CN': '备注' }, maxLength: 300 })
    expect(def.layout!.columns).toBeUndefined()
  })

  it('sets and clears field rules per role', () => {
    let s = fromDefinition(structuredClone(receipt))
    s = setFieldRule(s, 'clerk', 'qty', 'hidden', true)
    s = setFieldRule(s, 'clerk', 'price', 'readOnly', false)
    s = setFieldRule(s, 'auditor', 'amount', 'readOnly', true)
    s = addRole(s, 'viewer')
    expect(toDefinition(s).permissions).toEqual({
      clerk: { actions: ['create', 'read'], scope: 'own', hidden: ['qty'] },
      guest: { actions: ['read'], hidden: ['price', 'amount'] },
      auditor: { actions: [], readOnly: ['amount'] },
      viewer: { actions: [] },
    })
    expect(setFieldRule(s, 'clerk', 'qty', 'hidden', true)).toBe(s)
  })
})

describe('palette', () => {
  it('lists every server type, grouped, and unknown types under advanced', () => {
    const types = [...allTypes, 'barcode_label'].map((id) => ({ id, label: { 'zh-CN': id } }))
    const items = paletteItems(types)
    for (const t of types) expect(items.some((i) => i.id === t.id)).toBe(true)
    expect(items.find((i) => i.id === 'text')!.group).toBe('basic')
    expect(items.find((i) => i.id === 'subtable')!.group).toBe('advanced')
    expect(items.find((i) => i.id === 'barcode_label')!.group).toBe('advanced')
    expect(items.filter((i) => i.group === 'layout').map((i) => i.id)).toEqual(['layout:group', 'layout:tabs', 'layout:columns'])
  })
})

describe('a form of 200 fields', () => {
  it('changes only the objects a change touches', () => {
    let s = fromDefinition({ key: 'big', name: { 'zh-CN': '大表' }, schema: { type: 'object', properties: {} } })
    for (let i = 0; i < 200; i++) s = addField(s, newField(allTypes[i % allTypes.length] === 'subtable' ? 'text' : allTypes[i % allTypes.length], words), { container: ROOT, index: Infinity }).state
    expect(s.order).toHaveLength(200)
    const id = s.order[100]
    const next = setKeyword(s, id, 'x-label', { 'zh-CN': '新' })
    for (const other of s.order) if (other !== id) expect(next.fields[other]).toBe(s.fields[other])
    expect(next.nodes).toBe(s.nodes)
    expect(next.containers).toBe(s.containers)
  })
})
