// What the audit screens show of the server's answers.
import type { AuditReport } from './api'

/** VerifyState is a verify report in one word, with its status colour. */
export interface VerifyState {
  kind: 'ok' | 'broken' | 'incomplete'
  colour: 'green' | 'red' | 'amber'
}

/**
 * verifyState reads an AuditReport: OK; broken (an entry changed or missing, at FirstBad); or
 * incomplete (the chain holds but stored revisions have no entry: written behind the log's back).
 */
export function verifyState(r: AuditReport): VerifyState {
  if (r.ok) return { kind: 'ok', colour: 'green' }
  if (r.firstBad) return { kind: 'broken', colour: 'red' }
  return { kind: 'incomplete', colour: 'amber' }
}

/** localToRFC3339 turns a date-time picker's local value ("2026-12-05 08:00:00") into RFC 3339 for the server. */
export function localToRFC3339(v: string | Date | null | undefined): string | undefined {
  if (!v) return undefined
  const d = v instanceof Date ? v : new Date(v.replace(' ', 'T'))
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString()
}

/** pretty is a before/after value as indented JSON for the detail view (shown as text, never HTML). */
export function pretty(v: unknown): string {
  if (v === undefined || v === null) return ''
  return JSON.stringify(v, null, 2)
}
