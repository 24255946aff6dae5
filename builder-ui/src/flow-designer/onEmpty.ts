// 找不到处理人时 (onEmpty) against 需要手写签名: "skip" passes a node nobody is found for as if it
// were approved (submitted on a fill node), so it would pass unsigned; the server refuses the
// pair (flow.signature_on_empty, workflow/signature.go) and the drawer does not offer it.
import { signatureSetting, signedDecisions, type FlowNode } from './model'

/** passingDecision is the decision that passes a node of each type: the one skip stands in for. */
export const passingDecision: Record<string, string> = { approval: 'approve', fill: 'submit' }

/** skipRefused tells whether onEmpty "skip" is refused for n: its signature covers the decision that passes it. */
export function skipRefused(n: FlowNode): boolean {
  const d = passingDecision[n.type]
  return !!d && signedDecisions(n).includes(d)
}

/**
 * signaturePatch is the change to n for picking the decisions that need a signature. When the
 * new setting refuses skip and n was set to skip, n goes to the administrators instead (onEmpty
 * omitted, the default) and moved says so, for the drawer to tell.
 */
export function signaturePatch(n: FlowNode, picked: readonly string[]): { patch: Partial<FlowNode>; moved: boolean } {
  const requireSignature = signatureSetting(n.type, picked)
  const moved = n.onEmpty === 'skip' && skipRefused({ ...n, requireSignature })
  return { patch: moved ? { requireSignature, onEmpty: undefined } : { requireSignature }, moved }
}
