import { describe, expect, it } from 'vitest'
import { findNode, fromDefinition, toDefinition, updateNode, type FlowDef, type FlowNode } from './model'
import { signaturePatch } from './onEmpty'
import { autoApproveRefused, timeoutPatch } from './timeoutAction'

// 超时设置「自动通过」with 需要手写签名: refused once the signature covers the decision that passes
// the node (approve; submit on a fill node), as the server refuses it (flow.signature_auto_approve).
const def: FlowDef = {
  key: 'release', name: { 'zh-CN': '放行' }, form: 'receipt', trigger: { on: 'manual' },
  nodes: [
    { id: 'start', type: 'start', next: 'qa' },
    { id: 'qa', type: 'approval', mode: 'single', assignees: [{ kind: 'role', role: 'qa' }],
      timers: { remindAfter: '4h', timeoutAfter: '24h', action: 'approve', workingHours: true }, next: 'ccp' },
    { id: 'ccp', type: 'fill', assignees: [{ kind: 'user', users: ['li'] }], timers: { timeoutAfter: '2h', action: 'approve' }, next: 'end' },
    { id: 'end', type: 'end', outcome: 'approved' },
  ],
}

// signWith is what the drawer does on the signature switch: the signature, then the timers it leaves valid.
function signWith(n: FlowNode, picked: string[]) {
  const sig = signaturePatch(n, picked)
  const after = timeoutPatch({ ...n, ...sig.patch })
  return { patch: { ...sig.patch, ...after.patch }, moved: after.moved }
}

describe('flow designer: timeout auto-approve against a handwritten signature', () => {
  it('refuses auto-approve when the signature covers approve on an approval or submit on a fill node', () => {
    const qa: FlowNode = { id: 'qa', type: 'approval' }
    expect(autoApproveRefused(qa)).toBe(false)
    expect(autoApproveRefused({ ...qa, requireSignature: true })).toBe(true)
    expect(autoApproveRefused({ ...qa, requireSignature: ['approve'] })).toBe(true)
    expect(autoApproveRefused({ ...qa, requireSignature: ['reject', 'return'] })).toBe(false)
    const ccp: FlowNode = { id: 'ccp', type: 'fill' }
    expect(autoApproveRefused({ ...ccp, requireSignature: true })).toBe(true)
    expect(autoApproveRefused({ ...ccp, requireSignature: ['submit'] })).toBe(true)
    expect(autoApproveRefused({ ...ccp, requireSignature: ['return'] })).toBe(false)
    expect(autoApproveRefused({ id: 'cc', type: 'notify' })).toBe(false)
  })

  it('drops an auto-approve when the signature starts covering approve, keeping the other timer settings', () => {
    let tree = fromDefinition(def)
    const on = signWith(findNode(tree, 'qa')!, ['approve'])
    expect(on.moved).toBe(true)
    tree = updateNode(tree, 'qa', on.patch)
    const qa = toDefinition(tree).nodes.find((n) => n.id === 'qa')!
    expect(qa.requireSignature).toEqual(['approve'])
    expect(qa.timers).toEqual({ remindAfter: '4h', timeoutAfter: '24h', workingHours: true })
  })

  it('on a fill node drops it once submit is signed, not while only return is', () => {
    let tree = fromDefinition(def)
    const ret = signWith(findNode(tree, 'ccp')!, ['return'])
    expect(ret.moved).toBe(false)
    tree = updateNode(tree, 'ccp', ret.patch)
    expect(findNode(tree, 'ccp')!.timers?.action).toBe('approve')
    const sub = signWith(findNode(tree, 'ccp')!, ['submit', 'return'])
    expect(sub.moved).toBe(true)
    tree = updateNode(tree, 'ccp', sub.patch)
    const ccp = toDefinition(tree).nodes.find((n) => n.id === 'ccp')!
    expect(ccp.requireSignature).toBe(true)
    expect(ccp.timers).toEqual({ timeoutAfter: '2h' })
  })

  it('leaves return and escalate, an unsigned node and a reject-only signature as they are', () => {
    const ret: FlowNode = { id: 'qa', type: 'approval', requireSignature: true, timers: { timeoutAfter: '1h', action: 'return' } }
    expect(timeoutPatch(ret)).toEqual({ patch: {}, moved: false })
    const esc: FlowNode = { ...ret, timers: { timeoutAfter: '1h', action: 'escalate', escalate: [{ kind: 'dept_head', levels: 1 }] } }
    expect(timeoutPatch(esc)).toEqual({ patch: {}, moved: false })
    const plain: FlowNode = { id: 'qa', type: 'approval', timers: { timeoutAfter: '1h', action: 'approve' } }
    expect(timeoutPatch(plain)).toEqual({ patch: {}, moved: false })
    expect(signWith(plain, ['reject'])).toEqual({ patch: { requireSignature: ['reject'] }, moved: false })
    const bare: FlowNode = { id: 'qa', type: 'approval', requireSignature: true, timers: { action: 'approve' } }
    expect(timeoutPatch(bare)).toEqual({ patch: { timers: undefined }, moved: true })
  })
})
