// 超时设置's 自动通过 (timers.action "approve") against 需要手写签名: the timeout approves the node
// (submits it on a fill node) with nobody signing, so while the signature covers that decision the
// server refuses the pair (flow.signature_auto_approve, workflow/signature.go) and the drawer does
// not offer it. 退回 and 升级 stay: they decide nothing a signature covers.
import { signedDecisions, type FlowNode, type Timers } from './model'
import { passingDecision } from './onEmpty'

/** autoApproveRefused tells whether the timeout action "approve" is refused for n: its signature covers the decision that passes it. */
export function autoApproveRefused(n: FlowNode): boolean {
  const d = passingDecision[n.type]
  return !!d && signedDecisions(n).includes(d)
}

/**
 * timeoutPatch is the change to n (as it is after a new signature setting) that keeps its timers
 * valid: an auto-approve it no longer allows is dropped, so the timeout only marks the tasks
 * overdue (the nearest the server accepts: no decision, reminders and the other timer settings
 * kept), and moved says so, for the drawer to tell. Nothing to change is an empty patch.
 */
export function timeoutPatch(n: FlowNode): { patch: Partial<FlowNode>; moved: boolean } {
  if (n.timers?.action !== 'approve' || !autoApproveRefused(n)) return { patch: {}, moved: false }
  const timers: Timers = { ...n.timers }
  delete timers.action
  return { patch: { timers: Object.keys(timers).length ? timers : undefined }, moved: true }
}
