// The print template as the label designer edits it: the same JSON as printing.Definition
// (printing/template_model.go, the shared contract), kept immutable — a change makes a new
// template object and a new element object, so undo keeps every step cheaply.
import type { Text } from '../api/types'

export interface Margin { top: number; right: number; bottom: number; left: number }

/** Sheet is printing.Sheet: Rows × Columns labels on a sheet (multi-up). */
export interface Sheet { width: number; height: number; rows: number; columns: number; gapX: number; gapY: number; margin: Margin }

/** Page is printing.Page, in millimetres. */
export interface Page { width: number; height: number; margin: Margin; sheet?: Sheet; dpi?: number }

/** Font is printing.Font (size in points). */
export interface Font { size?: number; bold?: boolean; align?: Align; valign?: 'top' | 'middle' | 'bottom'; wrap?: boolean }
export type Align = 'left' | 'center' | 'right'

/** Column is printing.Column. */
export interface Column { header: Text; value: string; width?: number; align?: Align }

/** Table is printing.Table. */
export interface Table { source: string; columns: Column[]; rowHeight?: number; headerHeight?: number; border?: boolean }

/** ElementType is printing.Element.Type. */
export type ElementType = 'text' | 'qr' | 'datamatrix' | 'code128' | 'gs1_128' | 'ean13' | 'image' | 'line' | 'box' | 'table'

/** Element is printing.Element: a box in mm from the label's top-left corner. */
export interface Element {
  id: string
  type: ElementType
  x: number
  y: number
  w: number
  h: number
  rotate?: number
  text?: string
  value?: string
  humanReadable?: boolean
  src?: string
  font?: Font
  stroke?: number
  fill?: boolean
  table?: Table
}

export type Repeat = 'record' | 'row' | 'code'

/** TemplateDef is printing.Definition. */
export interface TemplateDef {
  key: string
  name: Text
  form: string
  kind: 'label' | 'sheet'
  page: Page
  repeat?: Repeat
  repeatField?: string
  elements: Element[]
}

/** The palette: what an analyst adds (字段 is a text with a field's placeholder, 条码 a Code 128 first). */
export type PaletteKind = 'text' | 'field' | 'qr' | 'barcode' | 'image' | 'line' | 'box' | 'table'
export const paletteKinds: PaletteKind[] = ['text', 'field', 'qr', 'barcode', 'image', 'line', 'box', 'table']

/** codeTypes are the symbologies a 条码 element may be (the server draws the same). */
export const linearTypes: ElementType[] = ['code128', 'gs1_128', 'ean13']
export const codeTypes: ElementType[] = ['code128', 'gs1_128', 'ean13', 'datamatrix', 'qr']

export function isCode(t: ElementType): boolean {
  return codeTypes.includes(t)
}
export function isLinear(t: ElementType): boolean {
  return linearTypes.includes(t)
}
/** isSquare: 2D codes keep their width and height equal. */
export function isSquare(t: ElementType): boolean {
  return t === 'qr' || t === 'datamatrix'
}

/** SizePreset is a label or paper size the page setup offers. */
export interface SizePreset { id: string; width: number; height: number; kind: 'label' | 'sheet' }
export const sizePresets: SizePreset[] = [
  { id: '60x40', width: 60, height: 40, kind: 'label' },
  { id: '100x50', width: 100, height: 50, kind: 'label' },
  { id: '100x150', width: 100, height: 150, kind: 'label' },
  { id: 'A4', width: 210, height: 297, kind: 'sheet' },
]

/** presetOf names the preset a page's size is, or '' for a custom size. */
export function presetOf(p: Page): string {
  return sizePresets.find((s) => s.width === p.width && s.height === p.height)?.id ?? ''
}

export const dpis = [203, 300, 600]

export function zeroMargin(): Margin {
  return { top: 0, right: 0, bottom: 0, left: 0 }
}

/** newTemplate is a 60×40 mm label for a form's records, with nothing on it. */
export function newTemplate(key: string, name: Text, form: string): TemplateDef {
  return {
    key, name, form, kind: 'label',
    page: { width: 60, height: 40, margin: { top: 2, right: 2, bottom: 2, left: 2 }, dpi: 203 },
    repeat: 'record',
    elements: [],
  }
}

/** defaultSizes are what a new element of a type measures, in mm. */
const defaultSizes: Record<ElementType, [number, number]> = {
  text: [30, 6], qr: [20, 20], datamatrix: [15, 15], code128: [40, 12], gs1_128: [50, 14], ean13: [37, 20],
  image: [15, 15], line: [30, 0], box: [20, 10], table: [50, 20],
}

/** uniqueId is type_N, the first N no element uses. */
export function uniqueId(t: TemplateDef, type: string): string {
  const used = new Set(t.elements.map((e) => e.id))
  for (let n = 1; ; n++) {
    const id = `${type}_${n}`
    if (!used.has(id)) return id
  }
}

export interface NewElementOptions {
  /** text is the 文本's first words; field the 字段's placeholder path. */
  text?: string
  field?: string
  /** at places it (else near the top-left margin, stepped so new ones do not stack exactly). */
  at?: { x: number; y: number }
}

/** newElement makes the element a palette kind adds to t (not yet added). */
export function newElement(t: TemplateDef, kind: PaletteKind, o: NewElementOptions = {}): Element {
  const type: ElementType = kind === 'field' ? 'text' : kind === 'barcode' ? 'code128' : kind
  const [w0, h0] = defaultSizes[type]
  const w = Math.min(w0, Math.max(1, t.page.width - t.page.margin.left - t.page.margin.right))
  const h = isSquare(type) ? w : Math.min(h0, Math.max(0, t.page.height - t.page.margin.top - t.page.margin.bottom))
  const step = (t.elements.length % 5) * 2
  const at = o.at ?? { x: t.page.margin.left + step, y: t.page.margin.top + step }
  const e: Element = { id: uniqueId(t, type), type, x: at.x, y: at.y, w, h }
  switch (kind) {
    case 'text':
      e.text = o.text ?? ''
      e.font = { size: 10 }
      break
    case 'field':
      e.text = o.field ? `{{${o.field}}}` : ''
      e.font = { size: 10 }
      break
    case 'qr':
      e.value = '{{code.url}}'
      break
    case 'barcode':
      e.value = '{{record.id}}'
      e.humanReadable = true
      break
    case 'line':
    case 'box':
      e.stroke = 0.2
      break
    case 'table':
      e.table = { source: '', columns: [], rowHeight: 6, border: true }
      e.font = { size: 8 }
      break
  }
  return e
}

/** addElement puts e on top (drawn last). */
export function addElement(t: TemplateDef, e: Element): TemplateDef {
  return { ...t, elements: [...t.elements, e] }
}

/** updateElement changes the element id with patch (undefined values remove a property). */
export function updateElement(t: TemplateDef, id: string, patch: Partial<Element>): TemplateDef {
  const i = t.elements.findIndex((e) => e.id === id)
  if (i < 0) return t
  const next = { ...t.elements[i], ...patch }
  for (const k of Object.keys(patch) as (keyof Element)[]) if (patch[k] === undefined) delete next[k]
  const elements = t.elements.slice()
  elements[i] = next
  return { ...t, elements }
}

export function removeElement(t: TemplateDef, id: string): TemplateDef {
  return { ...t, elements: t.elements.filter((e) => e.id !== id) }
}

/** moveElementInOrder brings an element forward (+1) or back (-1) in the drawing order. */
export function moveElementInOrder(t: TemplateDef, id: string, by: number): TemplateDef {
  const i = t.elements.findIndex((e) => e.id === id)
  const j = i + by
  if (i < 0 || j < 0 || j >= t.elements.length) return t
  const elements = t.elements.slice()
  ;[elements[i], elements[j]] = [elements[j], elements[i]]
  return { ...t, elements }
}

/** changeType turns a code element into another symbology, keeping 2D codes square. */
export function changeType(t: TemplateDef, id: string, type: ElementType): TemplateDef {
  const e = t.elements.find((x) => x.id === id)
  if (!e || e.type === type) return t
  const patch: Partial<Element> = { type }
  if (isSquare(type)) patch.h = patch.w = Math.min(e.w, Math.max(e.h, 5))
  else if (isSquare(e.type)) {
    const [w, h] = defaultSizes[type]
    patch.w = w
    patch.h = h
  }
  if (!isLinear(type)) patch.humanReadable = undefined
  return updateElement(t, id, patch)
}

/** toDefinition is what is sent to the server: rounded to 0.01 mm, empty options left out. */
export function toDefinition(t: TemplateDef): TemplateDef {
  const r = (n: number) => Math.round(n * 100) / 100
  const page: Page = { ...t.page, width: r(t.page.width), height: r(t.page.height) }
  if (!page.sheet) delete page.sheet
  const out: TemplateDef = {
    ...t,
    page,
    elements: t.elements.map((e) => ({ ...e, x: r(e.x), y: r(e.y), w: r(e.w), h: r(e.h) })),
  }
  if (!out.repeat || out.repeat === 'record') delete out.repeat
  if (out.repeat !== 'row') delete out.repeatField
  return out
}

/** stable is a definition's JSON with sorted keys: two equal templates give equal strings. */
export function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, (x as Record<string, unknown>)[k]])) : x)
}

/** fromDefinition reads a definition from the server, filling what it may leave out. */
export function fromDefinition(d: TemplateDef): TemplateDef {
  return {
    ...d,
    name: d.name ?? {},
    kind: d.kind || 'label',
    page: { ...d.page, margin: d.page?.margin ?? zeroMargin() },
    repeat: d.repeat || 'record',
    elements: (d.elements ?? []).map((e) => ({ ...e })),
  }
}

/** Problems are the server's complaints placed: by element id, and the rest (page, name…). */
export interface Problems {
  elements: Record<string, { prop: string; message: string }[]>
  general: { path: string; message: string }[]
}

/**
 * problemPlaces puts the field errors of a refused save on the elements they name: a path
 * "elements/3/value" (or "/elements/3/value", "elements.3.value") is element 3's value.
 */
export function problemPlaces(t: TemplateDef, fields: { field: string; message: string }[]): Problems {
  const out: Problems = { elements: {}, general: [] }
  for (const f of fields) {
    const parts = f.field.replace(/^\//, '').split(/[/.]/).filter(Boolean)
    const i = parts[0] === 'elements' ? Number(parts[1]) : NaN
    const el = Number.isInteger(i) ? t.elements[i] : undefined
    if (el) (out.elements[el.id] ??= []).push({ prop: parts[2] ?? '', message: f.message })
    else out.general.push({ path: f.field, message: f.message })
  }
  return out
}
