// From a form's definition (JSON Schema properties with x-type, x-label, x-options, and a
// layout) to what the record pages render: one FieldSpec per field with the widget that edits
// it, the layout as nodes, list filters and cell text. Pure functions: the pages stay thin and
// this is what the unit tests cover.
import type { Definition, FieldSchema, Filter, LayoutItem, Text, Values } from '../api/types'

export type Widget =
  | 'text' | 'textarea' | 'number' | 'money' | 'select' | 'multiselect' | 'radio' | 'checkbox'
  | 'switch' | 'date' | 'datetime' | 'time' | 'subtable' | 'formula' | 'autonumber' | 'scan'
  | 'attachment' | 'user' | 'department' | 'relation' | 'location' | 'signature' | 'unsupported'

/** Choice is one option of a select, radio, multiselect or checkbox field. */
export interface Choice {
  value: string
  label: Text
  color?: string
}

/** FieldSpec is one field as the record pages use it. */
export interface FieldSpec {
  key: string
  /** type is the field's x-type as the server knows it. */
  type: string
  widget: Widget
  label: Text
  required: boolean
  /** generated fields (formula, auto-number) are computed by the server and never sent. */
  generated: boolean
  choices: Choice[]
  precision?: number
  unit?: string
  currency?: string
  placeholder?: string
  seconds?: boolean
  multiple?: boolean
  maxLength?: number
  min?: number
  max?: number
  onLabel?: Text
  offLabel?: Text
  /** result is a formula's result type: number, string, bool or date. */
  result?: string
  /** scanMap names, by GS1 AI, the fields a scan fills. */
  scanMap?: Record<string, string>
  /** columns are a sub-table's columns. */
  columns?: FieldSpec[]
  /** target is a relation's form; displayField the target's field that names its records. */
  target?: string
  displayField?: string
  /** coordinateSystem is a location's datum: wgs84 (default), gcj02 or bd09. */
  coordinateSystem?: string
  defaultValue?: unknown
}

const widgetOf: Record<string, Widget> = {
  text: 'text', textarea: 'textarea', richtext: 'textarea', number: 'number', money: 'money',
  select: 'select', multiselect: 'multiselect', radio: 'radio', checkbox: 'checkbox', switch: 'switch',
  date: 'date', datetime: 'datetime', time: 'time', subtable: 'subtable', formula: 'formula',
  autonumber: 'autonumber', scan: 'scan', attachment: 'attachment', image: 'attachment',
  user: 'user', department: 'department', relation: 'relation', location: 'location',
  signature: 'signature',
}

const generatedTypes = new Set(['formula', 'autonumber'])

function textOf(v: unknown): Text | undefined {
  if (typeof v === 'string') return { 'zh-CN': v, en: v }
  if (v && typeof v === 'object') return v as Text
  return undefined
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined
}

/** fieldSpec reads one property of a schema. */
export function fieldSpec(key: string, s: FieldSchema, required: boolean): FieldSpec {
  const type = s['x-type'] ?? 'text'
  const o = (s['x-options'] ?? {}) as Record<string, unknown>
  const spec: FieldSpec = {
    key,
    type,
    widget: widgetOf[type] ?? 'unsupported',
    label: s['x-label'] ?? { 'zh-CN': key, en: key },
    required,
    generated: generatedTypes.has(type),
    choices: Array.isArray(o.options)
      ? (o.options as { value: unknown; label?: unknown; color?: string }[]).map((c) => ({
          value: String(c.value),
          label: textOf(c.label) ?? { 'zh-CN': String(c.value), en: String(c.value) },
          color: c.color,
        }))
      : [],
    defaultValue: s.default,
  }
  if (type === 'image') spec.multiple = true
  if (typeof o.placeholder === 'string') spec.placeholder = o.placeholder
  if (typeof o.unit === 'string') spec.unit = o.unit
  if (type === 'money') {
    spec.currency = typeof o.currency === 'string' ? o.currency : 'CNY'
    spec.precision = num(o.precision) ?? 2
  }
  if (type === 'number') spec.precision = num(o.precision) ?? 2
  if (type === 'formula') {
    spec.result = typeof o.result === 'string' ? o.result : 'number'
    spec.precision = num(o.precision)
  }
  if (type === 'time') spec.seconds = o.seconds === true
  if (type === 'user' || type === 'department' || type === 'relation') spec.multiple = o.multiple === true
  if (type === 'relation') {
    if (typeof o.form === 'string') spec.target = o.form
    if (typeof o.displayField === 'string' && o.displayField) spec.displayField = o.displayField
  }
  if (type === 'location') spec.coordinateSystem = typeof o.coordinateSystem === 'string' ? o.coordinateSystem : 'wgs84'
  if (type === 'switch') {
    spec.onLabel = textOf(o.onLabel)
    spec.offLabel = textOf(o.offLabel)
  }
  if (type === 'scan' && o.map && typeof o.map === 'object') spec.scanMap = o.map as Record<string, string>
  spec.maxLength = num(s.maxLength)
  spec.min = num(s.minimum)
  spec.max = num(s.maximum)
  if (type === 'subtable') spec.columns = fieldSpecs(s.items)
  return spec
}

/** fieldSpecs lists the fields of a schema in the order the definition gives them. */
export function fieldSpecs(schema: { properties?: Record<string, FieldSchema>; required?: string[] } | undefined): FieldSpec[] {
  if (!schema?.properties) return []
  const required = new Set(schema.required ?? [])
  return Object.entries(schema.properties).map(([k, s]) => fieldSpec(k, s, required.has(k)))
}

/** LayoutNode is one thing the record form places: a field, a titled group or a set of tabs. */
export type LayoutNode =
  | { kind: 'field'; spec: FieldSpec; span: number }
  | { kind: 'group'; label?: Text; columns: number; items: LayoutNode[] }
  | { kind: 'tabs'; tabs: { label: Text; items: LayoutNode[] }[] }

export interface FormLayout {
  columns: number
  items: LayoutNode[]
}

function clampColumns(n: number | undefined, fallback: number): number {
  return Math.min(4, Math.max(1, n ?? fallback))
}

/**
 * formLayout places the fields as the definition's layout says; fields it does not place come
 * after, one per row. Sub-tables span the whole row. On a phone (columns 1) everything is one
 * column whatever the design says.
 */
export function formLayout(def: Definition, specs: FieldSpec[], phone = false): FormLayout {
  const byKey = new Map(specs.map((s) => [s.key, s]))
  const placed = new Set<string>()
  const columns = phone ? 1 : clampColumns(def.layout?.columns, 1)
  const walk = (items: LayoutItem[] | undefined, cols: number): LayoutNode[] => {
    const out: LayoutNode[] = []
    for (const it of items ?? []) {
      if (it.kind === 'field' && it.field) {
        const spec = byKey.get(it.field)
        if (!spec || placed.has(it.field)) continue
        placed.add(it.field)
        const span = spec.widget === 'subtable' ? cols : Math.min(cols, Math.max(1, it.span ?? 1))
        out.push({ kind: 'field', spec, span })
      } else if (it.kind === 'group') {
        const gcols = phone ? 1 : clampColumns(it.columns, cols)
        out.push({ kind: 'group', label: it.label, columns: gcols, items: walk(it.items, gcols) })
      } else if (it.kind === 'tabs') {
        out.push({ kind: 'tabs', tabs: (it.tabs ?? []).map((tab) => ({ label: tab.label, items: walk(tab.items, cols) })) })
      }
    }
    return out
  }
  const items = walk(def.layout?.items, columns)
  for (const spec of specs) {
    if (!placed.has(spec.key)) items.push({ kind: 'field', spec, span: columns })
  }
  return { columns, items }
}

/** emptyValue is what a new record's field starts with. */
export function emptyValue(spec: FieldSpec): unknown {
  if (spec.defaultValue !== undefined) return structuredClone(spec.defaultValue)
  switch (spec.widget) {
    case 'multiselect': case 'checkbox': case 'attachment': case 'subtable':
      return []
    case 'switch':
      return false
    case 'number': case 'money':
      return undefined
    default:
      return spec.multiple ? [] : ''
  }
}

/** emptyValues is a new record: every field at its start value. */
export function emptyValues(specs: FieldSpec[]): Values {
  const v: Values = {}
  for (const s of specs) if (!s.generated) v[s.key] = emptyValue(s)
  return v
}

/** emptyRow is a new sub-table row. */
export function emptyRow(spec: FieldSpec): Values {
  return emptyValues(spec.columns ?? [])
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)
}

/** cleanValue drops what the server computes and empty cells from a value before it is sent. */
function cleanValue(spec: FieldSpec, v: unknown): unknown {
  if (spec.widget === 'subtable' && Array.isArray(v)) {
    return v.map((row) => {
      const out: Values = {}
      for (const c of spec.columns ?? []) {
        if (c.generated) continue
        const cv = cleanValue(c, (row as Values)[c.key])
        if (!isEmpty(cv)) out[c.key] = cv
      }
      if ((row as Values).id !== undefined) out.id = (row as Values).id
      return out
    })
  }
  if (typeof v === 'string' && spec.widget !== 'textarea') return v.trim()
  return v
}

/**
 * recordPayload is the data sent for a record. A create sends the fields that have a value; an
 * update (original given) sends only what changed, with null for a value that was cleared.
 * Generated fields are never sent: the server computes them.
 */
export function recordPayload(specs: FieldSpec[], values: Values, original?: Values): Values {
  const out: Values = {}
  for (const s of specs) {
    if (s.generated || s.widget === 'unsupported') continue
    const v = cleanValue(s, values[s.key])
    if (!original) {
      if (!isEmpty(v)) out[s.key] = v
      continue
    }
    const before = original[s.key]
    if (isEmpty(v) && isEmpty(before)) continue
    if (JSON.stringify(v) !== JSON.stringify(before)) out[s.key] = isEmpty(v) ? null : v
  }
  return out
}

/** Words displayValue needs in the app's language. */
export interface DisplayWords {
  lang: 'zh-CN' | 'en'
  yes: string
  no: string
  rows: (n: number) => string
  files: (n: number) => string
  /** signed is what a list cell says of a stored signature (已签名). */
  signed?: string
}

function pick(t: Text | undefined, lang: string): string {
  if (!t) return ''
  return (lang === 'en' ? t.en || t['zh-CN'] : t['zh-CN'] || t.en) ?? ''
}

const currencySymbols: Record<string, string> = { CNY: '¥', USD: '$', EUR: '€', JPY: '¥', GBP: '£', HKD: 'HK$' }

function formatNumber(n: number, precision?: number): string {
  return precision === undefined
    ? n.toLocaleString('en-US', { maximumFractionDigits: 8 })
    : n.toLocaleString('en-US', { minimumFractionDigits: precision, maximumFractionDigits: precision })
}

function formatDateTime(iso: string): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`
}

/** displayValue is a field's value as text for a list cell or a read-only view. */
export function displayValue(spec: FieldSpec, v: unknown, w: DisplayWords): string {
  if (isEmpty(v)) return ''
  const choice = (x: unknown) => {
    const c = spec.choices.find((c) => c.value === String(x))
    return c ? pick(c.label, w.lang) : String(x)
  }
  switch (spec.widget) {
    case 'select': case 'radio':
      return choice(v)
    case 'multiselect': case 'checkbox':
      return Array.isArray(v) ? v.map(choice).join(', ') : choice(v)
    case 'switch':
      return v ? pick(spec.onLabel, w.lang) || w.yes : pick(spec.offLabel, w.lang) || w.no
    case 'number':
      return typeof v === 'number' ? formatNumber(v, spec.precision) + (spec.unit ? ` ${spec.unit}` : '') : String(v)
    case 'money': {
      if (typeof v !== 'number') return String(v)
      const sym = currencySymbols[spec.currency ?? 'CNY']
      return sym ? `${sym}${formatNumber(v, spec.precision)}` : `${formatNumber(v, spec.precision)} ${spec.currency}`
    }
    case 'formula':
      if (typeof v === 'number') return formatNumber(v, spec.precision)
      if (typeof v === 'boolean') return v ? w.yes : w.no
      return String(v)
    case 'datetime':
      return typeof v === 'string' ? formatDateTime(v) : String(v)
    case 'subtable':
      return Array.isArray(v) ? w.rows(v.length) : ''
    case 'attachment':
      return Array.isArray(v) ? w.files(v.length) : w.files(1)
    case 'signature':
      return w.signed ?? w.files(1)
    default:
      break
  }
  if (Array.isArray(v)) return v.map(String).join(', ')
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>
    if (typeof o.address === 'string' && o.address) return o.address
    if (typeof o.lat === 'number' && typeof o.lng === 'number') return `${o.lat}, ${o.lng}`
    return JSON.stringify(v)
  }
  return String(v)
}

/** FilterKind is the filter input a field gets in the list's filter bar. */
export type FilterKind = 'text' | 'range' | 'choice' | 'dateRange' | 'bool' | 'exact'

/** filterKind says how a field is filtered; undefined when it is not (files, sub-tables). */
export function filterKind(spec: FieldSpec): FilterKind | undefined {
  switch (spec.widget) {
    case 'text': case 'textarea': case 'scan': case 'autonumber':
      return 'text'
    case 'number': case 'money':
      return 'range'
    case 'select': case 'radio': case 'multiselect': case 'checkbox':
      return 'choice'
    case 'date': case 'datetime':
      return 'dateRange'
    case 'switch':
      return 'bool'
    case 'user': case 'department': case 'relation': case 'time':
      return 'exact'
    case 'formula':
      return spec.result === 'number' ? 'range' : spec.result === 'bool' ? 'bool' : spec.result === 'date' ? 'dateRange' : 'text'
    default:
      return undefined
  }
}

/** FilterInput is what a person entered in the filter bar for one field. */
export type FilterInput =
  | { kind: 'text' | 'exact'; value: string }
  | { kind: 'range'; min?: number | null; max?: number | null }
  | { kind: 'choice'; values: string[] }
  | { kind: 'dateRange'; from?: string; to?: string }
  | { kind: 'bool'; value: boolean }

/**
 * listFilters turns a filter input into the list query's filters; none when the input is
 * empty. Date fields filter on their stored day part (YYYY-MM-DD), so a datetime field's day
 * is the plant's day.
 */
export function listFilters(spec: FieldSpec, input: FilterInput): Filter[] {
  const field = spec.key
  switch (input.kind) {
    case 'text':
      return input.value.trim() ? [{ field, op: 'contains', value: input.value.trim() }] : []
    case 'exact':
      return input.value.trim() ? [{ field, op: 'eq', value: input.value.trim() }] : []
    case 'range': {
      const out: Filter[] = []
      if (typeof input.min === 'number') out.push({ field, op: 'gte', value: input.min })
      if (typeof input.max === 'number') out.push({ field, op: 'lte', value: input.max })
      return out
    }
    case 'choice':
      return input.values.length ? [{ field, op: 'in', value: [...input.values] }] : []
    case 'dateRange': {
      const day = spec.widget === 'formula' ? field : `${field}.day`
      if (input.from && input.to) return [{ field: day, op: 'between', value: [input.from, input.to] }]
      if (input.from) return [{ field: day, op: 'gte', value: input.from }]
      if (input.to) return [{ field: day, op: 'lte', value: input.to }]
      return []
    }
    case 'bool':
      return [{ field, op: 'eq', value: input.value }]
  }
}

/** listColumns are the fields a record list can show as columns (not sub-tables or files; a signature shows as 已签名 or a thumbnail). */
export function listColumns(specs: FieldSpec[]): FieldSpec[] {
  return specs.filter((s) => s.widget !== 'subtable' && s.widget !== 'attachment' && s.widget !== 'unsupported' && s.type !== 'location')
}

/** sortable says whether the server can sort a list by the field. */
export function sortable(spec: FieldSpec): boolean {
  return !['multiselect', 'checkbox', 'subtable', 'attachment', 'signature', 'unsupported'].includes(spec.widget)
}

/** orderedSpecs lists the fields in the order the layout shows them (then the ones it does not place). */
export function orderedSpecs(def: Definition, specs: FieldSpec[]): FieldSpec[] {
  const out: FieldSpec[] = []
  const walk = (nodes: LayoutNode[]) => {
    for (const n of nodes) {
      if (n.kind === 'field') out.push(n.spec)
      else if (n.kind === 'group') walk(n.items)
      else for (const tab of n.tabs) walk(tab.items)
    }
  }
  walk(formLayout(def, specs, true).items)
  return out
}
