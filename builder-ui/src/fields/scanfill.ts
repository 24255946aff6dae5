// What a scan field fills in the form as soon as its text is GS1 data, the way the server fills
// the same fields when the record is saved (forms/field_scan.go, Fill): the x-options map names
// by AI the field each element goes to; dates become "YYYY-MM-DD" (day 00 is the month's last
// day; a date-time for a datetime field), measures and amounts (310n, 392n, 393n…) numbers,
// everything else text. A code is read only when every element passes the AI table's checks
// (gs1-ais.json, the gs1 package's table): anything the server would refuse fills nothing.
// testdata/scan-fill.json holds cases both sides are tested against.
import type { InjectionKey, Ref } from 'vue'
import aiTable from './gs1-ais.json'
import type { Text, Values } from '../api/types'
import type { GS1Element } from './gs1'
import { emptyValue, type FieldSpec } from './widgets'
import { parseScannedGS1, validCheckDigit } from '../scan/gs1code'

interface AIRow { ai: string; format: string; decimals: number }

interface Part { set: 'N' | 'X'; min: number; max: number; optional: boolean; lint: string }
interface AIDef { ai: string; parts: Part[]; decimals: number; date: boolean; currency: boolean }

const table = new Map<string, AIDef>()
for (const r of aiTable as AIRow[]) {
  const parts = r.format.split(' ').map((c): Part => {
    const optional = c.startsWith('[')
    if (optional) c = c.slice(1, -1)
    const [typ, lint = ''] = c.split(',')
    const n = typ.slice(1)
    const max = Number(n.replace('..', ''))
    return { set: typ[0] as 'N' | 'X', min: n.startsWith('..') ? 1 : max, max, optional, lint }
  })
  table.set(r.ai, {
    ai: r.ai, parts, decimals: r.decimals,
    date: ['yymmd0', 'yymmdd', 'yymmddhh'].includes(parts[0].lint),
    currency: parts.some((p) => p.lint === 'iso4217'),
  })
}

// GS1 character set 82: what an X component may hold.
const cset82 = /^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]*$/

// placeYear is the GS1 century rule (General Specifications §7.12): from 49 years before to 50
// after now's year.
function placeYear(yy: number, nowYear: number): number {
  const century = nowYear - (nowYear % 100)
  const diff = yy - (nowYear % 100)
  if (diff >= 51) return century - 100 + yy
  if (diff <= -50) return century + 100 + yy
  return century + yy
}

const daysIn = (y: number, m: number) => new Date(Date.UTC(y, m, 0)).getUTCDate()

// A date as the server reads it: calendar fields in the plant's time zone.
interface DateParts { y: number; m: number; d: number; hh: number; mi: number; ss: number }

// readDate reads YYMMDD[HH[MM[SS]]] (day 00 in six digits: the month's last day); null when invalid.
function readDate(v: string, nowYear: number): DateParts | null {
  if (![6, 8, 10, 12].includes(v.length) || !/^\d+$/.test(v)) return null
  const y = placeYear(Number(v.slice(0, 2)), nowYear)
  const m = Number(v.slice(2, 4))
  let d = Number(v.slice(4, 6))
  if (m < 1 || m > 12) return null
  const last = daysIn(y, m)
  if (d === 0 && v.length === 6) d = last
  if (d < 1 || d > last) return null
  const clock = [0, 0, 0]
  const limits = [23, 59, 59]
  for (let i = 0; 6 + 2 * i < v.length; i++) {
    clock[i] = Number(v.slice(6 + 2 * i, 8 + 2 * i))
    if (clock[i] > limits[i]) return null
  }
  return { y, m, d, hh: clock[0], mi: clock[1], ss: clock[2] }
}

// checkPart tells whether one component's text passes its character set and linter.
function checkPart(p: Part, s: string, nowYear: number): boolean {
  if (p.set === 'N' ? !/^\d*$/.test(s) : !cset82.test(s)) return false
  switch (p.lint) {
    case 'csum':
      return validCheckDigit(s)
    case 'yymmd0':
      return readDate(s, nowYear) !== null
    case 'yymmdd':
      return s.slice(4, 6) !== '00' && readDate(s, nowYear) !== null
    case 'yymmddhh':
      return readDate(s, nowYear) !== null
    case 'hhmm':
      return Number(s.slice(0, 2)) <= 23 && Number(s.slice(2, 4)) <= 59
    case 'mmoptss':
      return (s.length === 2 || s.length === 4) && Number(s.slice(0, 2)) <= 59 && (s.length === 2 || Number(s.slice(2, 4)) <= 59)
    case 'zero':
      return s === '0'
    case 'pieceoftotal': {
      const piece = Number(s.slice(0, 2))
      const total = Number(s.slice(2, 4))
      return piece >= 1 && total >= 1 && piece <= total
    }
    case 'iso3166list':
      return s.length % 3 === 0
    default:
      return true
  }
}

// checkValue lays v over the components, each taking as much as it may while leaving the
// minimum the components after it need (the formats in the table split one way only).
function checkValue(def: AIDef, v: string, nowYear: number): boolean {
  let at = 0
  for (let i = 0; i < def.parts.length; i++) {
    const p = def.parts[i]
    const rest = v.length - at
    if (p.optional && rest === 0) continue
    const need = def.parts.slice(i + 1).reduce((n, q) => n + (q.optional ? 0 : q.min), 0)
    const take = Math.min(p.max, rest - need)
    if (take < p.min) return false
    if (!checkPart(p, v.slice(at, at + take), nowYear)) return false
    at += take
  }
  return at === v.length
}

/** gs1Elements reads a scan field's text as the server does; [] when it is not GS1 data, null when it is but broken. */
export function gs1Elements(text: string, nowYear: number): GS1Element[] | null {
  const t = text.trim()
  let els: GS1Element[] = parseScannedGS1(t)
  if (!els.length) {
    // A bare GTIN-8/12/13/14 (or an EAN/UPC symbol's) is AI 01, padded to 14 digits.
    // Bracketed, raw with GS or behind a GS1 symbology identifier, yet not read: broken.
    if (/^\(\d{2,4}\)/.test(t) || t.includes('\x1d') || /^\](C1|e0|d2|Q3|J1)/.test(t)) return null
    const m = /^(?:\]E[04])?(\d{8}|\d{12,14})$/.exec(t)
    if (!m || !validCheckDigit(m[1]) || /^0+$/.test(m[1])) return t.startsWith(']E') ? null : []
    els = [{ ai: '01', value: m[1].padStart(14, '0') }]
  }
  for (const e of els) {
    const def = table.get(e.ai)
    if (!def || !checkValue(def, e.value, nowYear)) return null
  }
  return els
}

// Calendar fields of an instant in a time zone (the browser's when zone is undefined).
function zoned(now: Date, zone?: string): DateParts {
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  })
  const p = Object.fromEntries(f.formatToParts(now).map((x) => [x.type, x.value]))
  return { y: Number(p.year), m: Number(p.month), d: Number(p.day), hh: Number(p.hour), mi: Number(p.minute), ss: Number(p.second) }
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0')

// rfc3339 writes calendar fields in zone with the zone's offset at that moment, as Go's
// time.RFC3339 does ("2026-11-25T08:00:00+08:00", "…Z" in UTC).
function rfc3339(d: DateParts, zone?: string): string {
  const guess = Date.UTC(d.y, d.m - 1, d.d, d.hh, d.mi, d.ss)
  let offset = 0
  for (let i = 0; i < 2; i++) {
    const z = zoned(new Date(guess - offset * 60000), zone)
    offset = (Date.UTC(z.y, z.m - 1, z.d, z.hh, z.mi, z.ss) - (guess - offset * 60000)) / 60000
  }
  const local = `${pad(d.y, 4)}-${pad(d.m)}-${pad(d.d)}T${pad(d.hh)}:${pad(d.mi)}:${pad(d.ss)}`
  if (offset === 0) return `${local}Z`
  const a = Math.abs(offset)
  return `${local}${offset < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}:${pad(a % 60)}`
}

// elementValue converts one element to what its target takes, as the server's scanValue does.
function elementValue(def: AIDef, v: string, targetType: string | undefined, nowYear: number, zone?: string): unknown {
  if (def.date) {
    // A harvest range (7007) gives its first day; 8008's time may stop at the hour or minute.
    const first = def.parts[1]?.lint === 'yymmdd' && v.length > 6 ? v.slice(0, 6) : v
    const d = readDate(first, nowYear)
    if (!d) return undefined
    return targetType === 'datetime' ? rfc3339(d, zone) : `${pad(d.y, 4)}-${pad(d.m)}-${pad(d.d)}`
  }
  if (def.decimals >= 0) {
    let digits = def.currency ? v.slice(3) : v
    if (digits.length <= def.decimals) digits = '0'.repeat(def.decimals - digits.length + 1) + digits
    return Number(`${digits.slice(0, digits.length - def.decimals)}.${digits.slice(digits.length - def.decimals)}`)
  }
  return v
}

/**
 * scanFill gives the fields a scan field's map names their values from its text: by field
 * key, for the AIs present (with two AIs for one field, the first in AI order wins). {} when the
 * text is not GS1 data; null when it is but broken (the server refuses it when saved).
 * targetTypes are the mapped fields' x-types; now places two-digit years; zone is the plant's
 * time zone (the browser's when not given) for date-times.
 */
export function scanFill(text: string, map: Record<string, string> | undefined, targetTypes: Record<string, string>, now: Date, zone?: string): Record<string, unknown> | null {
  if (!map || !text.trim()) return {}
  const nowYear = zoned(now, zone).y
  const els = gs1Elements(text, nowYear)
  if (els === null) return null
  const out: Record<string, unknown> = {}
  for (const ai of Object.keys(map).sort()) {
    const key = map[ai]
    const el = els.find((e) => e.ai === ai)
    const def = table.get(ai)
    if (!el || !def || key in out) continue
    const v = elementValue(def, el.value, targetTypes[key], nowYear, zone)
    if (v === undefined) return null
    out[key] = v
  }
  return out
}

/** ScanReport says which mapped fields a scan filled, and which it left as the person typed them. */
export interface ScanReport {
  filled: { key: string; label: Text }[]
  kept: { key: string; label: Text }[]
}

/** scanReportsKey gives the scan inputs what their last fill did, by input id. */
export const scanReportsKey: InjectionKey<Ref<Record<string, ScanReport>>> = Symbol('scanReports')

const empty = (v: unknown) => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0)
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

/** ScanApplied is a form (or a sub-table row) after a scan field's text changed. */
export interface ScanApplied {
  values: Values
  /** memory is what this fill put in each field: a field still holding it was not typed into since. */
  memory: Record<string, unknown>
  report: ScanReport
}

/**
 * applyScan fills, in values (a record's, or a sub-table row's with its columns as specs), the
 * fields the scan field scanKey maps, from its text. A field is filled when it is empty or
 * still holds what the scan field's previous fill put there (memory); one the person has typed
 * into since is kept. A field the previous fill set that the new code does not name is emptied
 * again. A code that is broken or not GS1 fills nothing. The report lists fields in the form's order.
 */
export function applyScan(specs: FieldSpec[], values: Values, scanKey: string, memory: Record<string, unknown> | undefined, now: Date, zone?: string): ScanApplied {
  const spec = specs.find((s) => s.key === scanKey)
  const out: ScanApplied = { values, memory: {}, report: { filled: [], kept: [] } }
  if (!spec?.scanMap) return out
  const types = Object.fromEntries(specs.map((s) => [s.key, s.type]))
  const text = typeof values[scanKey] === 'string' ? (values[scanKey] as string) : ''
  const fill = scanFill(text, spec.scanMap, types, now, zone) ?? {}
  const next = { ...values }
  const targets = new Set(Object.values(spec.scanMap))
  for (const target of specs) {
    const key = target.key
    if (!targets.has(key) || target.generated || key === scanKey) continue
    const mine = memory !== undefined && key in memory && same(next[key], memory[key])
    if (key in fill) {
      if (empty(next[key]) || mine) {
        next[key] = fill[key]
        out.memory[key] = fill[key]
        out.report.filled.push({ key, label: target.label })
      } else {
        out.report.kept.push({ key, label: target.label })
      }
    } else if (mine) {
      next[key] = emptyValue({ ...target, defaultValue: undefined })
    }
  }
  out.values = next
  return out
}

/**
 * scanMemory is, for a stored record, what its scan fields' codes fill that the record still
 * holds: a new scan may replace those (the server filled them from the code), not the others.
 */
export function scanMemory(specs: FieldSpec[], values: Values, now: Date, zone?: string): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {}
  const types = Object.fromEntries(specs.map((s) => [s.key, s.type]))
  for (const s of specs) {
    if (s.widget !== 'scan' || !s.scanMap || typeof values[s.key] !== 'string') continue
    const fill = scanFill(values[s.key] as string, s.scanMap, types, now, zone) ?? {}
    out[s.key] = Object.fromEntries(Object.entries(fill).filter(([k, v]) => same(values[k], v)))
  }
  return out
}
