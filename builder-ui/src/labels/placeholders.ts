// Placeholders ({{path}} or {{path|format}}, printing/template_model.go) as the designer offers
// and shows them: the choices from the form's published fields, inserting one where the cursor
// is, and the sample values the canvas draws codes with (a code needs content to be drawn).
import type { FieldSchema, JSONSchema, Text } from '../api/types'
import type { ElementType } from './model'

/** Choice is one placeholder the picker offers. */
export interface Choice {
  /** path is what goes between the braces: "qty", "row.qty", "code.url". */
  path: string
  label: Text | string
  /** type is the field's x-type ("" for the built-in ones). */
  type: string
  group: 'field' | 'row' | 'code' | 'record'
}

/** builtIns are the placeholders every template has (the code ones on per-code labels). */
export const codePaths = ['code.url', 'code.serial', 'code.gtin', 'code.lot', 'code.expiry']
export const recordPaths = ['record.id', 'record.status', 'now', 'page', 'pages']

// Fields that hold no printable value of their own.
const unprintable = new Set(['subtable', 'signature', 'attachment'])

/**
 * choices lists the placeholders of a form's schema: its fields (a sub-table's columns as
 * row.* when rowsOf names it), the item code's parts and the record's.
 */
export function choices(schema: JSONSchema | undefined, rowsOf = ''): Choice[] {
  const out: Choice[] = []
  const props = schema?.properties ?? {}
  for (const [key, f] of Object.entries(props)) {
    if (unprintable.has(f['x-type'])) continue
    out.push({ path: key, label: f['x-label'] ?? key, type: f['x-type'] ?? '', group: 'field' })
  }
  const rows = rowsOf ? props[rowsOf] : undefined
  for (const [key, f] of Object.entries(rows?.items?.properties ?? {})) {
    out.push({ path: `row.${key}`, label: f['x-label'] ?? key, type: f['x-type'] ?? '', group: 'row' })
  }
  for (const p of codePaths) out.push({ path: p, label: p, type: '', group: 'code' })
  for (const p of recordPaths) out.push({ path: p, label: p, type: '', group: 'record' })
  return out
}

/** subTables are a schema's sub-table fields (a table's source, a per-row label's rows). */
export function subTables(schema: JSONSchema | undefined): { key: string; label: Text | string; columns: [string, FieldSchema][] }[] {
  return Object.entries(schema?.properties ?? {})
    .filter(([, f]) => f['x-type'] === 'subtable')
    .map(([key, f]) => ({ key, label: f['x-label'] ?? key, columns: Object.entries(f.items?.properties ?? {}) }))
}

/** imageFields are a schema's fields an image element may print ({{field}}). */
export function imageFields(schema: JSONSchema | undefined): string[] {
  return Object.entries(schema?.properties ?? {})
    .filter(([, f]) => f['x-type'] === 'attachment' || f['x-type'] === 'image' || f['x-type'] === 'signature')
    .map(([k]) => k)
}

/** token is the text a choice inserts, with a format when the field's type wants one. */
export function token(c: Choice): string {
  if (c.type === 'date') return `{{${c.path}|date:YYYY-MM-DD}}`
  if (c.type === 'datetime') return `{{${c.path}|date:YYYY-MM-DD HH:mm}}`
  return `{{${c.path}}}`
}

/**
 * insertAt puts tok into text at the selection [start, end) (replacing it), and answers the
 * new text and where the cursor goes (after the token).
 */
export function insertAt(text: string, start: number | null | undefined, end: number | null | undefined, tok: string): { text: string; cursor: number } {
  const s = start == null ? text.length : Math.max(0, Math.min(start, text.length))
  const e = end == null ? s : Math.max(s, Math.min(end, text.length))
  return { text: text.slice(0, s) + tok + text.slice(e), cursor: s + tok.length }
}

/** Placeholder is one {{…}} found in a text. */
export interface Placeholder {
  path: string
  format?: string
  start: number
  end: number
}

const pattern = /\{\{\s*([^{}|]+?)\s*(?:\|\s*([^{}]*?)\s*)?\}\}/g

/** placeholdersIn finds the placeholders of a text, in order. */
export function placeholdersIn(text: string): Placeholder[] {
  const out: Placeholder[] = []
  for (const m of text.matchAll(pattern)) {
    out.push({ path: m[1], format: m[2] || undefined, start: m.index!, end: m.index! + m[0].length })
  }
  return out
}

/** unknownPaths are the placeholders of text the choices do not offer (a typo, a removed field). */
export function unknownPaths(text: string, cs: Choice[]): string[] {
  const known = new Set(cs.map((c) => c.path))
  return placeholdersIn(text).map((p) => p.path).filter((p) => !known.has(p) && !p.startsWith('row.') && !(p.includes('.') && known.has(p.split('.')[0])))
}

/** Samples are what the canvas draws for placeholders. */
export interface Samples {
  /** label is how a field placeholder shows in text: its label, e.g. "[物料]". */
  label: (path: string) => string
}

export const sampleCode = {
  gtin: '09501101530003',
  lot: 'LOT2026A',
  serial: 'K7Q2M9X4TB',
  expiry: '2027-06-30',
  url: 'https://id.example.com/01/09501101530003/10/LOT2026A/21/K7Q2M9X4TB?17=270630',
}

function builtIn(path: string): string | undefined {
  switch (path) {
    case 'code.url': return sampleCode.url
    case 'code.serial': return sampleCode.serial
    case 'code.gtin': return sampleCode.gtin
    case 'code.lot': return sampleCode.lot
    case 'code.expiry': return sampleCode.expiry
    case 'record.id': return 'R0001'
    case 'page': return '1'
    case 'pages': return '1'
  }
  return undefined
}

/** sampleText is a text as the canvas shows it: built-ins by sample values, fields by [label]. */
export function sampleText(text: string, s: Samples): string {
  return text.replace(pattern, (_m, path: string) => builtIn(path.trim()) ?? `[${s.label(path.trim())}]`)
}

// Sample contents of the GS1 AIs a label commonly carries, by AI.
const aiSamples: Record<string, string> = {
  '00': '095011010000000017', '01': sampleCode.gtin, '02': sampleCode.gtin, '10': sampleCode.lot, '11': '260630', '13': '260630',
  '15': '270630', '17': '270630', '21': sampleCode.serial, '37': '12',
}

/**
 * sampleValue is the content a code element is drawn with in the canvas: its value with each
 * placeholder replaced so the symbology accepts it — a GS1 element string gets a sample of
 * each AI's kind, an EAN-13 twelve digits, others the built-in samples or the field's key.
 */
export function sampleValue(type: ElementType, value: string): string {
  if (type === 'ean13') {
    // A literal is drawn as it is (bwip-js refuses what the server would); a placeholder by a sample.
    if (!placeholdersIn(value).length && value.trim()) return value.trim().length === 13 ? value.trim().slice(0, 12) : value.trim()
    const digits = value.replace(pattern, '').replace(/\D/g, '')
    return digits.length === 12 || digits.length === 13 ? digits.slice(0, 12) : '950110153000'
  }
  if (type === 'gs1_128' || type === 'datamatrix') {
    if (!/^\s*\(\d{2,4}\)/.test(value)) {
      // Not an element string: a code's url or serial is shown as the GS1 data it carries.
      return `(01)${sampleCode.gtin}(10)${sampleCode.lot}(21)${sampleCode.serial}`
    }
    return value.replace(/\((\d{2,4})\)([^(]*)/g, (_m, ai: string, data: string) => {
      const hasPlaceholder = /\{\{/.test(data)
      const d = hasPlaceholder ? aiSamples[ai] ?? 'SAMPLE1' : data.trim()
      return `(${ai})${d}`
    })
  }
  const out = value.replace(pattern, (_m, path: string) => builtIn(path.trim()) ?? path.trim().toUpperCase())
  return out || (type === 'qr' ? sampleCode.url : 'SAMPLE')
}

/** ean13Check is the check digit of twelve digits (GS1's mod-10: weights 1 and 3 from the left). */
export function ean13Check(d12: string): string {
  let sum = 0
  for (let i = 0; i < 12; i++) sum += Number(d12[i]) * (i % 2 ? 3 : 1)
  return String((10 - (sum % 10)) % 10)
}

/** humanText is the line printed under a linear code's bars for the content it is drawn with. */
export function humanText(type: ElementType, sample: string): string {
  if (type === 'ean13' && /^\d{12}$/.test(sample)) return sample + ean13Check(sample)
  return sample
}
