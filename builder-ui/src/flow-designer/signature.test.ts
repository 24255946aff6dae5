import { describe, expect, it } from 'vitest'
import { findNode, fromDefinition, signatureSetting, signedDecisions, toDefinition, updateNode, type FlowDef } from './model'
import { summary, type Names } from './summary'

// 需要手写签名 on a node: the drawer's switch and decisions ⇄ the definition's requireSignature
// (true = every decision of the node, a list = those), and the card's ✍ 签名 tag.
const def: FlowDef = {
  key: 'release', name: { 'zh-CN': '放行' }, form: 'receipt', trigger: { on: 'manual' },
  nodes: [
    { id: 'start', type: 'start', next: 'qa' },
    { id: 'qa', type: 'approval', mode: 'single', assignees: [{ kind: 'role', role: 'qa' }], next: 'ccp' },
    { id: 'ccp', type: 'fill', assignees: [{ kind: 'user', users: ['li'] }], requireSignature: ['submit'], next: 'end' },
    { id: 'end', type: 'end', outcome: 'approved' },
  ],
}
const t = (k: string, p?: Record<string, unknown>) => (p ? `${k}(${Object.values(p).join(',')})` : k)
const names: Names = { role: (r) => r, field: (f) => f, text: (x, f) => x?.['zh-CN'] ?? f ?? '' }

describe('flow designer: requireSignature', () => {
  it('reads true as every decision of the node and a list in the node type’s order', () => {
    expect(signedDecisions({ id: 'a', type: 'approval', requireSignature: true })).toEqual(['approve', 'reject', 'return'])
    expect(signedDecisions({ id: 'a', type: 'approval', requireSignature: ['return', 'approve'] })).toEqual(['approve', 'return'])
    expect(signedDecisions({ id: 'f', type: 'fill', requireSignature: true })).toEqual(['submit', 'return'])
    expect(signedDecisions({ id: 'a', type: 'approval' })).toEqual([])
  })

  it('writes every decision as true, some as a list, none as nothing', () => {
    expect(signatureSetting('approval', ['reject', 'approve', 'return'])).toBe(true)
    expect(signatureSetting('approval', ['return', 'approve'])).toEqual(['approve', 'return'])
    expect(signatureSetting('fill', ['submit'])).toEqual(['submit'])
    expect(signatureSetting('fill', [])).toBeUndefined()
  })

  it('round-trips the drawer’s choice: designer state → definition → designer state', () => {
    let tree = fromDefinition(def)
    tree = updateNode(tree, 'qa', { requireSignature: signatureSetting('approval', ['approve', 'reject', 'return']) })
    tree = updateNode(tree, 'ccp', { requireSignature: signatureSetting('fill', []) })
    const out = toDefinition(tree)
    expect(out.nodes.find((n) => n.id === 'qa')?.requireSignature).toBe(true)
    expect('requireSignature' in out.nodes.find((n) => n.id === 'ccp')!).toBe(false)
    const back = fromDefinition(JSON.parse(JSON.stringify(out)))
    expect(signedDecisions(findNode(back, 'qa')!)).toEqual(['approve', 'reject', 'return'])
    expect(signedDecisions(findNode(back, 'ccp')!)).toEqual([])
    // Only approving signed, kept as a list.
    const some = toDefinition(updateNode(back, 'qa', { requireSignature: signatureSetting('approval', ['approve']) }))
    expect(some.nodes.find((n) => n.id === 'qa')?.requireSignature).toEqual(['approve'])
  })

  it('tags the node card ✍ 签名, naming the decisions when not all', () => {
    expect(summary(t, names, { id: 'qa', type: 'approval', assignees: [{ kind: 'role', role: 'qa' }], requireSignature: true }))
      .toEqual(['qa', 'flowDesigner.signatureTag'])
    expect(summary(t, names, { id: 'qa', type: 'approval', assignees: [{ kind: 'role', role: 'qa' }], requireSignature: ['approve'] }))
      .toEqual(['qa', 'flowDesigner.signatureTagSome(flowDesigner.decisions.approve)'])
  })
})
