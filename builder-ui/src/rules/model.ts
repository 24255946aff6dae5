// The rule editor's model (pure, unit-tested): the definition as the server reads it
// (rules/schema/rule.schema.json), the condition rows the sentence builder shows and the
// expression they compile to and are read back from, messages with {field} placeholders and
// the concat() expression they are, and the server's complaints placed by their JSON pointer.
import type { FieldIssue } from '../api/client'
import type { Text } from '../api/types'

/** Trigger is rules.Trigger: when a rule is evaluated. */
export interface Trigger {
  on: string
  field?: string
  from?: unknown
  to?: unknown
  days?: number
  window?: number
  /** flow narrows the flow triggers to one flow (its key). */
  flow?: string
  /** outcome narrows flow_finished: approved, rejected, withdrawn or failed. */
  outcome?: string
  /** node: node_entered's node (required), task_overdue's (absent: any). */
  node?: string
  /** cron, timezone: schedule's spec and IANA zone (absent: the plant's). */
  cron?: string
  timezone?: string
  /** match: schedule runs once per record matching every filter (absent: once, on no record). */
  match?: Filter[]
}

/** FilterOp is a match filter's operator (rules.Filter). */
export type FilterOp = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'startsWith' | 'empty' | 'notEmpty'

export const filterOps: FilterOp[] = ['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'startsWith', 'empty', 'notEmpty']

/** Filter is rules.Filter: a field of the form (indexed), an operator and a value expression. */
export interface Filter {
  field: string
  op: FilterOp
  /** value is an expression; absent for empty and notEmpty. */
  value?: string
}

/** valueless tells the operators that take no value. */
export const valueless = (op: string) => op === 'empty' || op === 'notEmpty'

/**
 * firstFilter is the row a new match starts with: a date field due within a week when the
 * form has an indexed one, else "equals" on its first indexed field (its value to be written).
 */
export function firstFilter(fields: FieldInfo[]): Filter {
  const date = fields.find((f) => f.indexed && (f.type === 'date' || f.type === 'datetime'))
  if (date) return { field: date.key, op: 'lte', value: 'addDays(today(), 7)' }
  return { field: fields.find((f) => f.indexed)?.key ?? '', op: 'eq', value: '' }
}

/** setFilter is filters with row i changed: a value only for operators that take one. */
export function setFilter(fs: Filter[], i: number, patch: Partial<Filter>): Filter[] {
  return fs.map((f, j) => {
    if (j !== i) return f
    const next = { ...f, ...patch }
    if (valueless(next.op)) delete next.value
    else next.value ??= ''
    return next
  })
}

/** The masked secret: what the server shows in a webhook's secret once one is set. */
export const SECRET_SET = '…'

/** newRule is an empty rule of form: fires when a record is created, no action yet. */
export function newRule(key: string, label: Text, form: string): RuleDef {
  return { key, label, form, trigger: { on: 'created' }, condition: '', actions: [] }
}

/** freeKey is base, or base_2, base_3… — the first not in used. */
export function freeKey(base: string, used: Iterable<string>): string {
  const taken = new Set(used)
  const b = base.replace(/[^a-z0-9_]/g, '_').replace(/^[^a-z]+/, '').slice(0, 34) || 'rule'
  if (!taken.has(b)) return b
  for (let i = 2; ; i++) if (!taken.has(`${b}_${i}`)) return `${b}_${i}`
}

/** stable is a JSON text of v with object keys sorted, for comparing definitions. */
export function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, (x as Record<string, unknown>)[k]])) : x,
  )
}

/** clean drops empty members the schema does not want (an empty condition, a trigger's unset options). */
export function clean(def: RuleDef): RuleDef {
  const tr: Trigger = { on: def.trigger.on }
  for (const k of ['field', 'from', 'to', 'days', 'window', 'flow', 'outcome', 'node', 'cron', 'timezone'] as const) {
    const v = def.trigger[k]
    if (v !== undefined && v !== null && v !== '') (tr as unknown as Record<string, unknown>)[k] = v
  }
  // A match is kept while it is being written (an empty row still shows); the server says what is missing.
  if (def.trigger.match?.length) tr.match = def.trigger.match.map((f) => (valueless(f.op) ? { field: f.field, op: f.op } : { field: f.field, op: f.op, value: f.value ?? '' }))
  const out: RuleDef = { key: def.key, label: def.label, form: def.form, trigger: tr, actions: def.actions.map((a) => ({ type: a.type, params: a.params ?? {} })) }
  if (def.condition?.trim()) out.condition = def.condition
  if (def.disabled) out.disabled = true
  return out
}

// ---- conditions ------------------------------------------------------------------------

/** Op is what a condition row compares with. */
export type Op = '==' | '!=' | '>' | '>=' | '<' | '<=' | 'contains' | 'empty' | 'notEmpty'

export const ops: Op[] = ['==', '!=', '>', '>=', '<', '<=', 'contains', 'empty', 'notEmpty']

/** STATUS is the row field that reads the record's status (not a form field). */
export const STATUS = '@status'

/** CondRow is one row of the condition builder: field, operator, value. */
export interface CondRow {
  field: string
  op: Op
  value?: string | number | boolean | null
}

/** Conditions are the rows and how they join (all must hold, or any). */
export interface Conditions {
  join: 'and' | 'or'
  rows: CondRow[]
}

/** NUMERIC are the field types whose values are numbers. */
export const NUMERIC = new Set(['number', 'money', 'integer', 'rating', 'percent'])

/** opsFor are the operators that make sense for a field of type. */
export function opsFor(type: string): Op[] {
  if (NUMERIC.has(type) || type === 'date' || type === 'datetime') return ['==', '!=', '>', '>=', '<', '<=', 'empty', 'notEmpty']
  if (type === 'switch') return ['==', '!=']
  if (type === 'select' || type === 'radio' || type === 'status') return ['==', '!=', 'empty', 'notEmpty']
  return ['==', '!=', 'contains', 'empty', 'notEmpty']
}

function operand(field: string): string {
  return field === STATUS ? 'status' : `record.${field}`
}

function literal(v: CondRow['value']): string {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v)
  if (typeof v === 'boolean') return String(v)
  return JSON.stringify(v == null ? '' : String(v))
}

/** rowToExpr is one row's expression. */
export function rowToExpr(r: CondRow): string {
  const x = operand(r.field)
  if (r.op === 'empty') return `coalesce(${x}, "") == ""`
  if (r.op === 'notEmpty') return `coalesce(${x}, "") != ""`
  return `${x} ${r.op} ${literal(r.value)}`
}

/** conditionsToExpr is the expression the rows compile to: '' for none. */
export function conditionsToExpr(c: Conditions): string {
  const rows = c.rows.filter((r) => r.field)
  return rows.map(rowToExpr).join(c.join === 'or' ? ' || ' : ' && ')
}

const field = String.raw`(record\.[a-z][a-z0-9_]*|status)`
const lit = String.raw`(-?\d+(?:\.\d+)?|true|false|"(?:[^"\\]|\\.)*")`
const clauseRe = new RegExp(String.raw`^\s*(?:coalesce\(\s*${field}\s*,\s*""\s*\)\s*(==|!=)\s*""|${field}\s*(==|!=|>=|<=|>|<|contains)\s*${lit})\s*`)

function fieldOf(operandText: string): string {
  return operandText === 'status' ? STATUS : operandText.slice('record.'.length)
}

function parseLiteral(s: string): CondRow['value'] {
  if (s === 'true') return true
  if (s === 'false') return false
  if (s.startsWith('"')) return JSON.parse(s) as string
  return Number(s)
}

/**
 * exprToConditions reads an expression back into rows — when it is one the rows make (clauses
 * joined all by && or all by ||); null otherwise (the editor then shows it as an expression).
 */
export function exprToConditions(expr: string | undefined): Conditions | null {
  let s = (expr ?? '').trim()
  if (!s) return { join: 'and', rows: [] }
  const rows: CondRow[] = []
  let join: 'and' | 'or' | undefined
  for (;;) {
    const m = clauseRe.exec(s)
    if (!m) return null
    if (m[1]) rows.push({ field: fieldOf(m[1]), op: m[2] === '==' ? 'empty' : 'notEmpty' })
    else {
      let value: CondRow['value']
      try {
        value = parseLiteral(m[5])
      } catch {
        return null
      }
      if (m[4] === 'contains' && typeof value !== 'string') return null
      rows.push({ field: fieldOf(m[3]), op: m[4] as Op, value })
    }
    s = s.slice(m[0].length)
    if (!s) return { join: join ?? 'and', rows }
    const j = s.startsWith('&&') ? 'and' : s.startsWith('||') ? 'or' : undefined
    if (!j || (join && join !== j)) return null
    join = j
    s = s.slice(2)
  }
}

// ---- messages ---------------------------------------------------------------------------

/**
 * templateToExpr turns a message with {field} placeholders into the text expression the
 * server renders: "大批量 {material}" → concat("大批量 ", record.material).
 */
export function templateToExpr(tpl: string): string {
  const parts: string[] = []
  const re = /\{([a-z][a-z0-9_]*)\}/g
  let at = 0
  for (let m = re.exec(tpl); m; m = re.exec(tpl)) {
    if (m.index > at) parts.push(JSON.stringify(tpl.slice(at, m.index)))
    parts.push(`record.${m[1]}`)
    at = m.index + m[0].length
  }
  if (at < tpl.length) parts.push(JSON.stringify(tpl.slice(at)))
  if (parts.length === 0) return ''
  if (parts.length === 1 && parts[0].startsWith('"')) return parts[0]
  return `concat(${parts.join(', ')})`
}

/** readString reads a quoted literal at the start of s: its text and length, or null. */
function readString(s: string): { text: string; len: number } | null {
  const q = s[0]
  if (q !== '"' && q !== "'") return null
  let text = ''
  for (let i = 1; i < s.length; i++) {
    const c = s[i]
    if (c === q) return { text, len: i + 1 }
    if (c === '\\') {
      const n = s[++i]
      const esc: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'" }
      if (n === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 1, i + 5))) {
        text += String.fromCharCode(parseInt(s.slice(i + 1, i + 5), 16))
        i += 4
      } else if (n !== undefined && n in esc) text += esc[n]
      else return null
    } else text += c
  }
  return null
}

/**
 * exprToTemplate reads a text expression back into a message with placeholders — when it is a
 * literal or a concat() of literals and record fields; null otherwise.
 */
export function exprToTemplate(expr: string | undefined): string | null {
  const s = (expr ?? '').trim()
  if (!s) return ''
  const plain = readString(s)
  if (plain && plain.len === s.length) return /[{}]/.test(plain.text) ? null : plain.text
  const m = /^concat\(([\s\S]*)\)$/.exec(s)
  if (!m) return null
  let rest = m[1].trim()
  let out = ''
  while (rest) {
    const str = readString(rest)
    if (str) {
      if (/[{}]/.test(str.text)) return null
      out += str.text
      rest = rest.slice(str.len)
    } else {
      const f = /^record\.([a-z][a-z0-9_]*)/.exec(rest)
      if (!f) return null
      out += `{${f[1]}}`
      rest = rest.slice(f[0].length)
    }
    rest = rest.trim()
    if (!rest) break
    if (rest[0] !== ',') return null
    rest = rest.slice(1).trim()
  }
  return out
}

// ---- the server's complaints ------------------------------------------------------------

/** Problem is one complaint about a place of the definition. */
export interface Problem {
  /** pointer is the JSON pointer the server named: /condition, /actions/0/params/title. */
  pointer: string
  code: string
  message: string
  /** line and column are set for expression errors that give them. */
  line?: number
  column?: number
}

const position = /line (\d+), column (\d+)/

/** toProblems reads a save's field issues, with the line and column of expression errors. */
export function toProblems(issues: FieldIssue[]): Problem[] {
  return issues.map((is) => {
    const pointer = is.field.startsWith('/') || is.field === '' ? is.field : '/' + is.field.replaceAll('.', '/')
    const p: Problem = { pointer, code: is.code, message: is.message }
    const m = position.exec(is.message)
    if (m) {
      p.line = Number(m[1])
      p.column = Number(m[2])
    }
    return p
  })
}

/** problemsAt are the problems about pointer or a place inside it. */
export function problemsAt(ps: Problem[], pointer: string): Problem[] {
  return ps.filter((p) => p.pointer === pointer || p.pointer.startsWith(pointer + '/'))
}

/** placedPrefixes are the places the editor shows problems at; the rest are shown at the top. */
export function unplaced(ps: Problem[], actions: number): Problem[] {
  const placed = ['/key', '/label', '/form', '/trigger', '/condition', ...Array.from({ length: actions }, (_, i) => `/actions/${i}`)]
  return ps.filter((p) => !placed.some((x) => p.pointer === x || p.pointer.startsWith(x + '/')))
}

/** maskSecrets is def with every webhook secret that was sent replaced by the mask the server keeps. */
export function maskSecrets(def: RuleDef): RuleDef {
  let changed = false
  const actions = def.actions.map((a) => {
    const s = a.params?.secret
    if (a.type !== 'webhook' || typeof s !== 'string' || s === '' || s === SECRET_SET) return a
    changed = true
    return { ...a, params: { ...a.params, secret: SECRET_SET } }
  })
  return changed ? { ...def, actions } : def
}
