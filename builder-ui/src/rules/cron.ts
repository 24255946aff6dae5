// A schedule trigger's cron spec as the engine reads it (robfig/cron with minute, hour,
// day-of-month, month and day-of-week fields, and descriptors; rules/rule_trigger.go), in the
// browser: parsed, its next firings in a time zone, and read in plain words — so the editor
// previews "每天 08:00" and the next three times as the person types. The server still checks
// the spec when the rule is saved; this only previews it.
import type { Translate } from './kinds'

/** CronField is one field's values (sorted) and whether it was written as * or ? (any). */
export interface CronField {
  values: number[]
  star: boolean
}

/** Cron is a parsed spec. */
export interface Cron {
  minute: CronField
  hour: CronField
  dom: CronField
  month: CronField
  dow: CronField
}

/** CronError says which field is wrong (0–4, or -1 for the whole spec) and why. */
export class CronError extends Error {
  constructor(public field: number, public detail: string) {
    super(detail)
  }
}

interface Bounds { min: number; max: number; names?: Record<string, number> }

const months = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const days = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']
const bounds: Bounds[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: Object.fromEntries(months.map((m, i) => [m, i + 1])) },
  { min: 0, max: 6, names: Object.fromEntries(days.map((d, i) => [d, i])) },
]

const range = (lo: number, hi: number, step = 1) => Array.from({ length: Math.floor((hi - lo) / step) + 1 }, (_, i) => lo + i * step)
const any = (b: Bounds): CronField => ({ values: range(b.min, b.max), star: true })

/** descriptors are the @ names the engine takes, as five-field specs (@every is refused). */
export const descriptors: Record<string, string> = {
  '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *', '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *',
}

function number(s: string, b: Bounds, field: number): number {
  const named = b.names?.[s.toLowerCase()]
  if (named !== undefined) return named
  if (!/^\d+$/.test(s)) throw new CronError(field, `not a number: ${s}`)
  return Number(s)
}

// One comma-separated part: *, ?, n, a-b, each with an optional /step ("n/step" is n to the
// end); a step over 1 makes even * not "any" (as the engine has it).
function part(expr: string, b: Bounds, field: number): CronField {
  const [lohi, stepText, extra] = expr.split('/')
  if (extra !== undefined) throw new CronError(field, `too many slashes: ${expr}`)
  let lo: number
  let hi: number
  let star = false
  const ends = lohi.split('-')
  if (ends[0] === '*' || ends[0] === '?') {
    if (ends.length > 1) throw new CronError(field, `not a range: ${expr}`)
    lo = b.min
    hi = b.max
    star = true
  } else {
    if (ends.length > 2) throw new CronError(field, `too many hyphens: ${expr}`)
    lo = number(ends[0], b, field)
    hi = ends.length === 2 ? number(ends[1], b, field) : lo
  }
  let step = 1
  if (stepText !== undefined) {
    if (!/^\d+$/.test(stepText)) throw new CronError(field, `not a number: ${stepText}`)
    step = Number(stepText)
    if (ends.length === 1) hi = b.max
    if (step > 1) star = false
  }
  if (lo < b.min) throw new CronError(field, `${lo} is below ${b.min}`)
  if (hi > b.max) throw new CronError(field, `${hi} is above ${b.max}`)
  if (lo > hi) throw new CronError(field, `${lo} is after ${hi}`)
  if (step === 0) throw new CronError(field, 'a step of 0')
  return { values: range(lo, hi, step), star }
}

function field(text: string, i: number): CronField {
  const parts = text.split(',').map((p) => part(p, bounds[i], i))
  const values = [...new Set(parts.flatMap((p) => p.values))].sort((a, b) => a - b)
  return { values, star: parts.some((p) => p.star) }
}

/** parseCron reads a spec of five fields or a descriptor; it throws a CronError. */
export function parseCron(spec: string): Cron {
  let s = spec.trim()
  if (!s) throw new CronError(-1, 'empty')
  if (/^(CRON_)?TZ=/.test(s)) throw new CronError(-1, 'time zone in the spec')
  if (s.startsWith('@')) {
    const d = descriptors[s]
    if (!d) throw new CronError(-1, `unknown descriptor ${s}`)
    s = d
  }
  const fs = s.split(/\s+/)
  if (fs.length !== 5) throw new CronError(-1, `${fs.length} fields, not 5`)
  const [minute, hour, dom, month, dow] = fs.map(field)
  // A descriptor's fields read as written (@weekly's day-of-month is any).
  return { minute, hour, dom, month, dow }
}

// ---- the next firings --------------------------------------------------------------------

/** Wall is a time on a clock of a zone: year, month 1–12, day, hour, minute, weekday 0 = Sunday. */
export interface Wall { y: number; m: number; d: number; hh: number; mi: number; wd: number }

/** Firing is one time the spec fires: the instant and the wall clock of the zone then. */
export interface Firing { at: Date; wall: Wall }

const formats = new Map<string, Intl.DateTimeFormat>()
function wallOf(at: number, zone: string): Wall {
  let f = formats.get(zone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' })
    formats.set(zone, f)
  }
  const p = Object.fromEntries(f.formatToParts(new Date(at)).map((x) => [x.type, x.value]))
  const y = Number(p.year)
  const m = Number(p.month)
  const d = Number(p.day)
  return { y, m, d, hh: Number(p.hour) % 24, mi: Number(p.minute), wd: new Date(Date.UTC(y, m - 1, d)).getUTCDay() }
}

// instants are the moments the zone's clock shows y-m-d hh:mi: none when a daylight-saving
// change skips it, two when one repeats it (the engine fires at both).
function instants(y: number, m: number, d: number, hh: number, mi: number, zone: string): number[] {
  const wall = Date.UTC(y, m - 1, d, hh, mi)
  const shows = (t: number) => {
    const w = wallOf(t, zone)
    return Date.UTC(w.y, w.m - 1, w.d, w.hh, w.mi) === wall
  }
  let t = wall
  for (let i = 0; i < 3; i++) {
    const w = wallOf(t, zone)
    t += wall - Date.UTC(w.y, w.m - 1, w.d, w.hh, w.mi)
  }
  if (!shows(t)) return []
  return [t - 3600_000, t, t + 3600_000].filter(shows)
}

/** dayMatches is the engine's rule: with day-of-month or weekday any, both must hold; else either. */
export function dayMatches(c: Cron, d: number, wd: number): boolean {
  const dom = c.dom.values.includes(d)
  const dow = c.dow.values.includes(wd)
  return c.dom.star || c.dow.star ? dom && dow : dom || dow
}

/** validZone tells whether the browser knows an IANA zone. */
export function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone })
    return true
  } catch {
    return false
  }
}

/**
 * nextFirings are the first n times after from (strictly) that the spec fires in zone, looked
 * for over five years as the engine does (a spec for 30 February never fires).
 */
export function nextFirings(c: Cron, zone: string, from: Date, n = 3): Firing[] {
  const out: Firing[] = []
  const start = wallOf(from.getTime(), zone)
  const day0 = Date.UTC(start.y, start.m - 1, start.d)
  for (let i = 0; i < 366 * 5 + 2 && out.length < n; i++) {
    const date = new Date(day0 + i * 86400_000)
    const y = date.getUTCFullYear()
    const m = date.getUTCMonth() + 1
    const d = date.getUTCDate()
    if (!c.month.values.includes(m) || !dayMatches(c, d, date.getUTCDay())) continue
    for (const hh of c.hour.values) {
      if (i === 0 && hh < start.hh) continue
      for (const mi of c.minute.values) {
        for (const t of instants(y, m, d, hh, mi, zone)) {
          if (t <= from.getTime()) continue
          out.push({ at: new Date(t), wall: { y, m, d, hh, mi, wd: date.getUTCDay() } })
          if (out.length === n) return out
        }
      }
    }
  }
  return out
}

// ---- in words ----------------------------------------------------------------------------

const pad = (n: number) => String(n).padStart(2, '0')
const clock = (hh: number, mi: number) => `${pad(hh)}:${pad(mi)}`

/** steps tells whether values are lo, lo+k, lo+2k… to the field's end, and k. */
function stepOf(f: CronField, b: Bounds): number | null {
  const v = f.values
  if (v.length < 2 || v[0] !== b.min) return null
  const k = v[1] - v[0]
  for (let i = 1; i < v.length; i++) if (v[i] - v[i - 1] !== k) return null
  return b.max - v[v.length - 1] < k ? k : null
}

// The times of day: "08:00", "08:00、14:00", "每小时第 5 分", "每 15 分钟"; null when no short words say it.
function timeWords(c: Cron, t: Translate): { text: string; daily: boolean } | null {
  const list = (xs: string[]) => xs.join(t('rules.listSep'))
  const [mi, hh] = [c.minute, c.hour]
  if (mi.values.length === 1) {
    const m = mi.values[0]
    if (hh.star) return { text: m === 0 ? t('rules.cronWords.hourly') : t('rules.cronWords.hourlyAt', { m }), daily: false }
    const step = stepOf(hh, bounds[1])
    if (step && hh.values.length > 2) return { text: m === 0 ? t('rules.cronWords.everyHours', { n: step }) : t('rules.cronWords.everyHoursAt', { n: step, m }), daily: false }
    if (hh.values.length <= 8) return { text: list(hh.values.map((h) => clock(h, m))), daily: true }
    return null
  }
  if (hh.star) {
    if (mi.star) return { text: t('rules.cronWords.everyMinute'), daily: false }
    const step = stepOf(mi, bounds[0])
    if (step) return { text: t('rules.cronWords.everyMinutes', { n: step }), daily: false }
  }
  if (hh.values.length === 1 && mi.values.length <= 6) return { text: list(mi.values.map((m) => clock(hh.values[0], m))), daily: true }
  return null
}

// The days: "每天", "工作日", "每周一、三", "每月 1、15 日", "每年 3 月 1 日"; null when no short words say it.
function dayWords(c: Cron, t: Translate): string | null {
  const list = (xs: (string | number)[]) => xs.join(t('rules.listSep'))
  const { dom, month, dow } = c
  if (dom.star && dow.star && month.star) return t('rules.cronWords.everyDay')
  if (dom.star && month.star) {
    const v = dow.values.join(',')
    if (v === '1,2,3,4,5') return t('rules.cronWords.weekdays')
    if (v === '0,6') return t('rules.cronWords.weekend')
    return t('rules.cronWords.everyWeek', { days: list(dow.values.map((d) => t(`rules.dow.${d}`))) })
  }
  if (dow.star && month.star) return t('rules.cronWords.everyMonth', { days: list(dom.values) })
  if (dow.star && month.values.length === 1 && dom.values.length === 1) return t('rules.cronWords.everyYear', { m: month.values[0], d: dom.values[0] })
  return null
}

/** describeCron reads a spec in plain words ("每天 08:00", "工作日 每 15 分钟"); null when it cannot be parsed or said shortly. */
export function describeCron(spec: string, t: Translate): string | null {
  let c: Cron
  try {
    c = parseCron(spec)
  } catch {
    return null
  }
  const time = timeWords(c, t)
  const day = dayWords(c, t)
  if (!time || !day) return null
  if (!time.daily && c.dom.star && c.dow.star && c.month.star) return time.text
  return t('rules.cronWords.dayTime', { day, time: time.text })
}

/** firingWords shows a firing as the zone's clock reads it: "2026-12-07 周一 08:00". */
export function firingWords(f: Firing, t: Translate): string {
  const w = f.wall
  return `${w.y}-${pad(w.m)}-${pad(w.d)} ${t(`rules.dow.${w.wd}`)} ${clock(w.hh, w.mi)}`
}

/** browserZone is the zone the browser runs in (a new schedule's default). */
export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
}

/** zones are the IANA zones the browser knows, for the picker. */
export function zones(): string[] {
  const known = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('timeZone') ?? []
  return [...new Set(['Asia/Shanghai', ...known, 'UTC'])]
}
