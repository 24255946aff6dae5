// The designer's palette: the field types the server offers (GET /api/v1/form-meta/field-types),
// grouped as UX.md says (基础字段 / 高级字段 / 布局), with what a new field of each type starts
// with. A type the server adds later still appears (under 高级字段, with the server's label).
import type { Text } from '../api/types'
import type { NewField } from './model'

/** FieldTypeInfo is api.FieldTypeInfo. */
export interface FieldTypeInfo {
  id: string
  label: Text
}

export type PaletteGroup = 'basic' | 'advanced' | 'layout'

/** PaletteItem is one thing the palette offers: a field type, or a layout item. */
export interface PaletteItem {
  /** id is the field type, or layout:group / layout:tabs / layout:columns. */
  id: string
  group: PaletteGroup
  /** label is the server's name of the type; the palette shows its own words when it has them. */
  label?: Text
}

/** basicTypes and advancedTypes order the palette; anything else the server has goes last in 高级字段. */
export const basicTypes = [
  'text', 'textarea', 'number', 'money', 'date', 'datetime', 'time', 'select', 'radio', 'multiselect',
  'checkbox', 'switch', 'user', 'department',
]
export const advancedTypes = [
  'subtable', 'relation', 'autonumber', 'formula', 'scan', 'signature', 'location', 'attachment', 'image', 'richtext',
]
export const layoutItems = ['layout:group', 'layout:tabs', 'layout:columns']

/** paletteItems lists the palette's items for the server's field types, in palette order. */
export function paletteItems(types: FieldTypeInfo[]): PaletteItem[] {
  const known = new Map(types.map((t) => [t.id, t]))
  const out: PaletteItem[] = []
  for (const id of basicTypes) if (known.has(id)) out.push({ id, group: 'basic', label: known.get(id)!.label })
  for (const id of advancedTypes) if (known.has(id)) out.push({ id, group: 'advanced', label: known.get(id)!.label })
  for (const t of types) {
    if (!basicTypes.includes(t.id) && !advancedTypes.includes(t.id)) out.push({ id: t.id, group: 'advanced', label: t.label })
  }
  for (const id of layoutItems) out.push({ id, group: 'layout' })
  return out
}

/** columnTypes says whether a type may be a sub-table's column (sub-tables do not nest). */
export function canBeColumn(type: string): boolean {
  return type !== 'subtable' && !type.startsWith('layout:')
}

/** choiceTypes have an options list. */
export const choiceTypes = new Set(['select', 'radio', 'multiselect', 'checkbox'])

/** Words are the texts new fields are made with, in both languages. */
export interface Words {
  /** typeLabel names a type (the new field's label). */
  typeLabel: (type: string) => Text
  /** option is the label of a new choice n. */
  option: (n: number) => Text
  /** column is the label of a new sub-table's first column. */
  column: Text
}

/** newField is what a field of the type starts with: its label, and the options the type needs. */
export function newField(type: string, w: Words): NewField {
  const nf: NewField = { type, label: w.typeLabel(type) }
  if (choiceTypes.has(type)) {
    nf.options = { options: [1, 2, 3].map((n) => ({ value: `option${n}`, label: w.option(n) })) }
  } else if (type === 'autonumber') {
    nf.options = { pattern: 'NO{yyMMdd}{seq:4}', reset: 'day' }
  } else if (type === 'formula') {
    nf.options = { expr: '', result: 'number' }
  } else if (type === 'relation') {
    nf.options = { form: '' }
  } else if (type === 'subtable') {
    nf.columns = [{ type: 'text', label: w.column, key: 'item' }]
  }
  return nf
}

/** Keyword is a JSON Schema keyword the property panel offers for validation. */
export type Keyword =
  | 'minLength' | 'maxLength' | 'pattern' | 'format' | 'minimum' | 'maximum' | 'exclusiveMinimum' | 'exclusiveMaximum'
  | 'multipleOf' | 'minItems' | 'maxItems'

/**
 * keywordsFor lists the validation keywords a field of the type takes (the server refuses the
 * others: forms/field_*.go). multiple matters for the pickers and relations.
 */
export function keywordsFor(type: string, multiple = false): Keyword[] {
  switch (type) {
    case 'text':
      return ['minLength', 'maxLength', 'pattern', 'format']
    case 'textarea': case 'scan':
      return ['minLength', 'maxLength', 'pattern']
    case 'number': case 'money':
      return ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf']
    case 'attachment': case 'image':
      return ['minItems']
    case 'user': case 'department': case 'relation':
      return multiple ? ['minItems', 'maxItems'] : []
    default:
      return []
  }
}

/** generatedTypes are computed by the server; they cannot be required. */
export const generatedTypes = new Set(['formula', 'autonumber'])

/** colorNames are the status colours an option may take (UX.md). */
export const colorNames = ['amber', 'green', 'red', 'grey', 'orange', 'darkred', 'blue']

/**
 * autoNumberSample shows what a pattern gives for the first number on a day: {yyyy} {yy} {MM}
 * {dd} and runs of them ({yyMMdd}) become the date, {seq:N} the number 1 in N digits. '' when
 * the pattern has no {seq:N}.
 */
export function autoNumberSample(pattern: string, day: Date): string {
  if (!/\{seq:\d{1,2}\}/.test(pattern)) return ''
  const p = (n: number, w: number) => String(n).padStart(w, '0')
  return pattern.replace(/\{([^{}]*)\}/g, (all, body: string) => {
    const seq = /^seq:(\d{1,2})$/.exec(body)
    if (seq) return p(1, Math.max(1, Math.min(12, Number(seq[1]))))
    if (!/^(yyyy|yy|MM|dd)+$/.test(body)) return all
    return body.replace(/yyyy|yy|MM|dd/g, (part) => {
      switch (part) {
        case 'yyyy': return p(day.getFullYear(), 4)
        case 'yy': return p(day.getFullYear() % 100, 2)
        case 'MM': return p(day.getMonth() + 1, 2)
        default: return p(day.getDate(), 2)
      }
    })
  })
}
