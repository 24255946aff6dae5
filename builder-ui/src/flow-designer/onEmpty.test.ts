import { describe, expect, it } from 'vitest'
import { findNode, fromDefinition, toDefinition, updateNode, type FlowDef, type FlowNode } from './model'
import { signaturePatch, skipRefused } from './onEmpty'

// 找不到处理人时「自动跳过」with 需要手写签名: refused once the signature covers the decision that
// passes the node (approve; submit on a fill node), as the server refuses it (flow.signature_on_empty).
const def: FlowDef = {
  key: 'release', name: { 'zh-CN': '放行' }, form: 'receipt', trigger: { on: 'manual' },
  nodes: [
    { id: 'start', type: 'start', next: 'qa' },
    { id: 'qa', type: 'approval', mode: 'single', assignees: [{ kind: 'role', role: 'qa' }], onEmpty: 'skip', next: 'ccp' },
    { id: 'ccp', type: 'fill', assignees: [{ kind: 'user', users: ['li'] }], onEmpty: 'skip', next: 'end' },
    { id: 'end', type: 'end', outcome: 'approved' },
  ],
}

describe('flow designer: onEmpty skip against a handwritten signature', () => {
  it('refuses skip when the signature covers approve on an approval or submit on a fill node', () => {
    const qa: FlowNode = { id: 'qa', type: 'approval' }
    expect(skipRefused(qa)).toBe(false)
    expect(skipRefused({ ...qa, requireSignature: true })).toBe(true)
    expect(skipRefused({ ...qa, requireSignature: ['approve'] })).toBe(true)
    expect(skipRefused({ ...qa, requireSignature: ['reject', 'return'] })).toBe(false)
    const ccp: FlowNode = { id: 'ccp', type: 'fill' }
    expect(skipRefused({ ...ccp, requireSignature: ['submit'] })).toBe(true)
    expect(skipRefused({ ...ccp, requireSignature: ['return'] })).toBe(false)
    expect(skipRefused({ id: 'cc', type: 'notify' })).toBe(false)
  })

  it('moves a skipping node to the administrators when its signature starts covering approve', () => {
    let tree = fromDefinition(def)
    const on = signaturePatch(findNode(tree, 'qa')!, ['approve', 'reject', 'return'])
    expect(on.moved).toBe(true)
    tree = updateNode(tree, 'qa', on.patch)
    const qa = toDefinition(tree).nodes.find((n) => n.id === 'qa')!
    expect(qa.requireSignature).toBe(true)
    expect('onEmpty' in qa).toBe(false) // omitted: the administrators, the default
  })

  it('keeps skip while only reject or return are signed, and on a fill node until submit is', () => {
    let tree = fromDefinition(def)
    const some = signaturePatch(findNode(tree, 'qa')!, ['reject'])
    expect(some).toEqual({ patch: { requireSignature: ['reject'] }, moved: false })
    const ret = signaturePatch(findNode(tree, 'ccp')!, ['return'])
    expect(ret.moved).toBe(false)
    tree = updateNode(tree, 'ccp', ret.patch)
    const sub = signaturePatch(findNode(tree, 'ccp')!, ['submit', 'return'])
    expect(sub.moved).toBe(true)
    tree = updateNode(tree, 'ccp', sub.patch)
    const ccp = toDefinition(tree).nodes.find((n) => n.id === 'ccp')!
    expect(ccp.requireSignature).toBe(true)
    expect(ccp.onEmpty).toBeUndefined()
  })

  it('leaves admin and fail as they are and turning the signature off changes nothing else', () => {
    const fail: FlowNode = { id: 'qa', type: 'approval', onEmpty: 'fail' }
    expect(signaturePatch(fail, ['approve'])).toEqual({ patch: { requireSignature: ['approve'] }, moved: false })
    const off = signaturePatch({ id: 'qa', type: 'approval', requireSignature: true }, [])
    expect(off).toEqual({ patch: { requireSignature: undefined }, moved: false })
  })
})
