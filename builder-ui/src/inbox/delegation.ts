// 委托: the form of the delegation dialog and what the inbox says about a delegation.
import type { Delegation } from '../api/types'

/** DelegationForm is the dialog's state: times as Date (the picker's), to a username. */
export interface DelegationForm {
  to: string
  from: Date | null
  until: Date | null
}

/** DelegationState says where now is against a delegation's period. */
export type DelegationState = 'none' | 'scheduled' | 'active' | 'ended'

/** delegationState is none without a delegation, else scheduled, active or ended at now. */
export function delegationState(d: Delegation | null | undefined, now: Date): DelegationState {
  if (!d || !d.to) return 'none'
  const from = Date.parse(d.from)
  const until = Date.parse(d.until)
  if (now.getTime() < from) return 'scheduled'
  if (now.getTime() >= until) return 'ended'
  return 'active'
}

/** formOf fills the dialog from the server's delegation, or with from now until a week on. */
export function formOf(d: Delegation | null | undefined, now: Date): DelegationForm {
  if (d && d.to) return { to: d.to, from: new Date(d.from), until: new Date(d.until) }
  const from = new Date(now)
  from.setSeconds(0, 0)
  return { to: '', from, until: new Date(from.getTime() + 7 * 24 * 3600 * 1000) }
}

/**
 * checkForm names the fields that are missing or wrong (their i18n keys under inbox.delegate):
 * a delegate is needed, an end is needed, and the end comes after the start.
 */
export function checkForm(f: DelegationForm): Record<string, string> {
  const errs: Record<string, string> = {}
  if (!f.to.trim()) errs.to = 'toRequired'
  if (!f.until) errs.until = 'untilRequired'
  else if (f.from && f.until.getTime() <= f.from.getTime()) errs.until = 'untilAfterFrom'
  return errs
}

/** toDelegation is the body of PUT /api/v1/me/delegation (from omitted means now). */
export function toDelegation(f: DelegationForm): Delegation {
  return { to: f.to.trim(), from: (f.from ?? new Date()).toISOString(), until: (f.until as Date).toISOString() }
}
