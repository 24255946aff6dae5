import { describe, expect, it } from 'vitest'
import { commit, createHistory, redo, undo } from '../designer/history'
import {
  ROOT, addBranch, branchKey, defaultKey, fromDefinition, insertItem, moveBranch, newFlow, newItem, pathKey,
  problemPlaces, removeBranch, removeItem, sameDefinition, setBranch, stable, toDefinition, updateNode,
  type FlowDef, type FlowTree,
} from './model'

// Every node type the engine has (workflow/flow_model.go), as docs/workflow.md's example and more:
// fill, approval with timers, a condition whose branches meet, a parallel with its join, a branch
// that ends on its own end node, notify, action, end.
const everyType: FlowDef = {
  key: 'release',
  name: { 'zh-CN': '放行', en: 'Release' },
  form: 'receipt',
  trigger: { on: 'create', when: 'qty > 0' },
  nodes: [
    { id: 'start', type: 'start', next: 'inspect' },
    {
      id: 'inspect', type: 'fill', name: { 'zh-CN': '检验员填写' }, assignees: [{ kind: 'field', field: 'inspector' }],
      fields: { visible: ['material', 'qty', 'result'], editable: ['result'] }, timers: { remindAfter: '4h' }, requireSignature: true, next: 'qa',
    },
    {
      id: 'qa', type: 'approval', name: { 'zh-CN': '质量审核' }, mode: 'any', assignees: [{ kind: 'role', role: 'qa' }],
      timers: { timeoutAfter: '24h', action: 'escalate', escalate: [{ kind: 'dept_head', levels: 1 }] }, rejectTo: 'inspect', requireSignature: ['approve'], next: 'big',
    },
    {
      id: 'big', type: 'condition',
      branches: [
        { name: { 'zh-CN': '大批量' }, when: 'qty > 1000', next: 'managers' },
        { name: { 'zh-CN': '报废' }, when: "result == 'scrap'", next: 'scrapped' },
      ],
      default: 'cc',
    },
    { id: 'managers', type: 'approval', mode: 'percent', percent: 60, assignees: [{ kind: 'role', role: 'manager' }, { kind: 'user', users: ['li', 'wang'] }], onEmpty: 'admin', next: 'par' },
    { id: 'par', type: 'parallel', paths: ['fin', 'wh'], join: 'par_join' },
    { id: 'fin', type: 'approval', mode: 'sequence', assignees: [{ kind: 'manager' }, { kind: 'initiator' }], next: 'par_join' },
    { id: 'wh', type: 'fill', assignees: [{ kind: 'dept_head', levels: 2 }], next: 'par_join' },
    { id: 'par_join', type: 'join', next: 'cc' },
    { id: 'scrapped', type: 'end', outcome: 'rejected', setStatus: 'scrapped' },
    { id: 'cc', type: 'notify', assignees: [{ kind: 'initiator' }], next: 'mark' },
    { id: 'mark', type: 'action', action: 'record.set_fields', params: { values: { released: true } }, next: 'done' },
    { id: 'done', type: 'end', outcome: 'approved', setStatus: 'released' },
  ],
}

describe('flow model: definition ⇄ tree', () => {
  it('round-trips every node type, definition → tree → definition', () => {
    const t = fromDefinition(everyType)
    expect(t.extra).toEqual([])
    const back = toDefinition(t)
    expect(sameDefinition(back, everyType)).toBe(true)
  })

  it('round-trips tree → definition → tree, equal', () => {
    const t = fromDefinition(everyType)
    expect(stable(fromDefinition(toDefinition(t)))).toBe(stable(t))
  })

  it('draws the tree DingTalk draws', () => {
    const t = fromDefinition(everyType)
    expect(t.body.items.map((i) => i.node.id)).toEqual(['inspect', 'qa', 'big', 'cc', 'mark'])
    expect(t.body.end?.id).toBe('done')
    const big = t.body.items[2]
    if (big.kind !== 'condition') throw new Error('big is not a condition')
    expect(big.branches.map((b) => b.when)).toEqual(['qty > 1000', "result == 'scrap'"])
    expect(big.branches[0].body.items.map((i) => i.node.id)).toEqual(['managers', 'par'])
    expect(big.branches[1].body.end?.id).toBe('scrapped')
    expect(big.otherwise.items).toEqual([])
    const par = big.branches[0].body.items[1]
    if (par.kind !== 'parallel') throw new Error('par is not parallel')
    expect(par.join.id).toBe('par_join')
    expect(par.paths.map((p) => p.items.map((i) => i.node.id))).toEqual([['fin'], ['wh']])
  })

  it('round-trips nested conditions and a condition whose branches all end', () => {
    const def: FlowDef = {
      key: 'f', name: { 'zh-CN': 'f' }, form: 'x', trigger: { on: 'manual' },
      nodes: [
        { id: 'start', type: 'start', next: 'c1' },
        { id: 'c1', type: 'condition', branches: [{ when: 'a > 1', next: 'c2' }], default: 'ok' },
        { id: 'c2', type: 'condition', branches: [{ when: 'b > 1', next: 'no' }], default: 'yes' },
        { id: 'no', type: 'end', outcome: 'rejected' },
        { id: 'yes', type: 'end', outcome: 'approved' },
        { id: 'ok', type: 'end', outcome: 'approved' },
      ],
    }
    const t = fromDefinition(def)
    expect(sameDefinition(toDefinition(t), def)).toBe(true)
    expect(stable(fromDefinition(toDefinition(t)))).toBe(stable(t))
  })

  it('keeps nodes no path reaches', () => {
    const def: FlowDef = { ...everyType, nodes: [...everyType.nodes, { id: 'lost', type: 'notify', next: 'done' }] }
    const t = fromDefinition(def)
    expect(t.extra.map((n) => n.id)).toEqual(['lost'])
    expect(sameDefinition(toDefinition(t), def)).toBe(true)
  })
})

describe('flow model: editing', () => {
  const base = () => newFlow('f', { 'zh-CN': '流程' }, 'receipt')

  it('starts as 发起人 → end', () => {
    expect(toDefinition(base()).nodes).toEqual([
      { id: 'start', type: 'start', next: 'end' },
      { id: 'end', type: 'end', outcome: 'approved' },
    ])
  })

  it('adds every kind of node and round-trips each', () => {
    let t = base()
    for (const k of ['approval', 'fill', 'notify', 'action', 'condition', 'parallel'] as const) {
      t = insertItem(t, ROOT, t.body.items.length, newItem(t, k))
    }
    expect(t.body.items.map((i) => i.node.id)).toEqual(['approval_1', 'fill_1', 'notify_1', 'action_1', 'condition_1', 'parallel_1'])
    // Fill the empty branches so the graph is one a definition can say.
    t = insertItem(t, branchKey('condition_1', 0), 0, newItem(t, 'approval'))
    t = insertItem(t, pathKey('parallel_1', 0), 0, newItem(t, 'notify'))
    t = insertItem(t, pathKey('parallel_1', 1), 0, newItem(t, 'fill'))
    const def = toDefinition(t)
    const cond = def.nodes.find((n) => n.id === 'condition_1')!
    expect(cond.branches).toEqual([{ when: '', next: 'approval_2' }])
    expect(cond.default).toBe('parallel_1')
    expect(def.nodes.find((n) => n.id === 'approval_2')!.next).toBe('parallel_1')
    expect(def.nodes.find((n) => n.id === 'parallel_1')!.paths).toEqual(['notify_2', 'fill_2'])
    expect(def.nodes.find((n) => n.id === 'parallel_1_join')!.next).toBe('end')
    expect(stable(fromDefinition(def))).toBe(stable(t))
    expect(sameDefinition(toDefinition(fromDefinition(def)), def)).toBe(true)
  })

  it('inserts between nodes, and removes a node with what it holds', () => {
    let t = base()
    t = insertItem(t, ROOT, 0, newItem(t, 'approval'))
    t = insertItem(t, ROOT, 0, newItem(t, 'condition'))
    t = insertItem(t, branchKey('condition_1', 0), 0, newItem(t, 'fill'))
    t = insertItem(t, defaultKey('condition_1'), 0, newItem(t, 'notify'))
    expect(toDefinition(t).nodes.map((n) => n.id)).toEqual(['start', 'condition_1', 'fill_1', 'notify_1', 'approval_1', 'end'])
    t = removeItem(t, 'condition_1')
    expect(toDefinition(t).nodes).toEqual([
      { id: 'start', type: 'start', next: 'approval_1' },
      { id: 'approval_1', type: 'approval', mode: 'any', assignees: [], next: 'end' },
      { id: 'end', type: 'end', outcome: 'approved' },
    ])
  })

  it('adds, edits, moves and removes branches', () => {
    let t = base()
    t = insertItem(t, ROOT, 0, newItem(t, 'condition'))
    t = addBranch(t, 'condition_1', { 'zh-CN': '条件2' })
    t = setBranch(t, 'condition_1', 0, { when: 'qty > 10' })
    t = setBranch(t, 'condition_1', 1, { when: 'qty > 100' })
    t = moveBranch(t, 'condition_1', 1, -1)
    let c = toDefinition(t).nodes.find((n) => n.id === 'condition_1')!
    expect(c.branches!.map((b) => b.when)).toEqual(['qty > 100', 'qty > 10'])
    t = removeBranch(t, 'condition_1', 0)
    c = toDefinition(t).nodes.find((n) => n.id === 'condition_1')!
    expect(c.branches).toEqual([{ when: 'qty > 10', next: 'end' }])
    // The last branch takes the condition with it.
    t = removeBranch(t, 'condition_1', 0)
    expect(t.body.items).toEqual([])

    t = insertItem(t, ROOT, 0, newItem(t, 'parallel'))
    t = addBranch(t, 'parallel_1')
    expect(toDefinition(t).nodes.find((n) => n.id === 'parallel_1')!.paths).toEqual(['parallel_1_join', 'parallel_1_join', 'parallel_1_join'])
    t = removeBranch(t, 'parallel_1', 2)
    t = removeBranch(t, 'parallel_1', 0)
    expect(t.body.items).toEqual([])
  })

  it('updates a node anywhere, keeping its pointers', () => {
    let t = fromDefinition(everyType)
    t = updateNode(t, 'fin', { mode: 'all', next: 'nowhere', timers: { remindAfter: '1h' } })
    t = updateNode(t, 'scrapped', { setStatus: undefined })
    t = updateNode(t, 'start', { name: { 'zh-CN': '发起人' } })
    const d = toDefinition(t)
    expect(d.nodes.find((n) => n.id === 'fin')).toEqual({ id: 'fin', type: 'approval', mode: 'all', assignees: [{ kind: 'manager' }, { kind: 'initiator' }], timers: { remindAfter: '1h' }, next: 'par_join' })
    expect(d.nodes.find((n) => n.id === 'scrapped')).toEqual({ id: 'scrapped', type: 'end', outcome: 'rejected' })
    expect(d.nodes[0].name).toEqual({ 'zh-CN': '发起人' })
  })

  it('shares what a change did not touch', () => {
    const t = fromDefinition(everyType)
    const u = updateNode(t, 'cc', { mode: 'x' })
    const big = (x: FlowTree) => x.body.items[2]
    expect(big(u)).toBe(big(t))
    expect(u.body.items[3]).not.toBe(t.body.items[3])
  })

  it('undoes and redoes with the designer history', () => {
    let h = createHistory(base())
    h = commit(h, insertItem(h.present, ROOT, 0, newItem(h.present, 'approval')))
    h = commit(h, insertItem(h.present, ROOT, 1, newItem(h.present, 'condition')))
    const two = h.present
    h = commit(h, removeItem(h.present, 'approval_1'))
    expect(h.present.body.items.map((i) => i.node.id)).toEqual(['condition_1'])
    h = undo(h)
    expect(h.present).toBe(two)
    h = undo(undo(h))
    expect(toDefinition(h.present).nodes.map((n) => n.id)).toEqual(['start', 'end'])
    h = redo(redo(h))
    expect(h.present).toBe(two)
  })

  it('maps compile errors to the nodes and branches they name', () => {
    const p = problemPlaces(everyType, [
      { field: '/nodes/3/branches/1/when', message: 'bad condition' },
      { field: '/nodes/4/next', message: 'not found' },
      { field: '/trigger/when', message: 'bad trigger' },
    ])
    expect(p).toEqual({ 'big/b1': ['bad condition'], managers: ['not found'], '': ['/trigger/when: bad trigger'] })
  })
})

describe('flow model: node summaries', () => {
  const t = (k: string, n?: Record<string, unknown>) => `${k}${n ? JSON.stringify(n) : ''}`
  const names = { role: (r: string) => (r === 'qa' ? '质量经理' : r), field: (f: string) => f, text: () => '' }
  it('says who, how and when', async () => {
    const { summary, duration } = await import('./summary')
    const qa = everyType.nodes.find((n) => n.id === 'qa')!
    expect(summary(t, names, qa)).toEqual(['质量经理', 'flowDesigner.modes.any', 'flowDesigner.timeout.escalate{"d":"flowDesigner.hours{\\"n\\":24}"}',
      'flowDesigner.signatureTagSome{"actions":"flowDesigner.decisions.approve"}'])
    expect(summary(t, names, { id: 'a', type: 'approval', assignees: [] })).toEqual([])
    expect(duration(t, '1h30m')).toBe('flowDesigner.hours{"n":1} flowDesigner.minutes{"n":30}')
    expect(duration(t, 'soon')).toBe('soon')
  })
})
