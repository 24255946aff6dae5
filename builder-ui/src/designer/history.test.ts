import { describe, expect, it } from 'vitest'
import { canRedo, canUndo, commit, createHistory, historyLimit, redo, seal, undo } from './history'
import { ROOT, addField, fieldByKey, fromDefinition, moveNode, nodeOfField, removeNode, setKeyword, toDefinition } from './model'
import { newField, type Words } from './palette'

const words: Words = {
  typeLabel: (t) => ({ 'zh-CN': t, en: t }),
  option: (n) => ({ 'zh-CN': `${n}`, en: `${n}` }),
  column: { 'zh-CN': '项目', en: 'Item' },
}

describe('undo and redo', () => {
  const start = () => fromDefinition({
    key: 'h', name: { 'zh-CN': 'h' },
    schema: { type: 'object', properties: { a: { 'x-type': 'text', 'x-label': { 'zh-CN': 'A' } } } },
  })

  it('undoes and redoes add, move and remove, back to the very states', () => {
    const s0 = start()
    let h = createHistory(s0)
    expect(canUndo(h)).toBe(false)
    const added = addField(h.present, newField('number', words), { container: ROOT, index: 0 })
    h = commit(h, added.state)
    const s1 = h.present
    h = commit(h, moveNode(h.present, nodeOfField(h.present, added.field)!, { container: ROOT, index: 1 }))
    const s2 = h.present
    h = commit(h, removeNode(h.present, nodeOfField(h.present, fieldByKey(h.present, 'a')!.id)!))
    expect(Object.keys(toDefinition(h.present).schema.properties)).toEqual(['number_1'])

    h = undo(h)
    expect(h.present).toBe(s2)
    expect(Object.keys(toDefinition(h.present).schema.properties)).toEqual(['a', 'number_1'])
    h = undo(h)
    expect(h.present).toBe(s1)
    expect(Object.keys(toDefinition(h.present).schema.properties)).toEqual(['number_1', 'a'])
    h = undo(h)
    expect(h.present).toBe(s0)
    expect(canUndo(h)).toBe(false)
    expect(undo(h)).toBe(h)

    h = redo(redo(h))
    expect(h.present).toBe(s2)
    expect(canRedo(h)).toBe(true)
    h = redo(h)
    expect(canRedo(h)).toBe(false)
    expect(redo(h)).toBe(h)
  })

  it('drops the redo steps on a new change, and ignores changes that change nothing', () => {
    let h = createHistory(start())
    h = commit(h, addField(h.present, newField('text', words), { container: ROOT, index: 0 }).state)
    h = undo(h)
    expect(canRedo(h)).toBe(true)
    h = commit(h, addField(h.present, newField('date', words), { container: ROOT, index: 0 }).state)
    expect(canRedo(h)).toBe(false)
    expect(commit(h, h.present)).toBe(h)
    expect(h.past).toHaveLength(1)
  })

  it('makes one step of typing into one property, and a new one after a seal or another property', () => {
    const s0 = start()
    const a = fieldByKey(s0, 'a')!.id
    let h = createHistory(s0)
    for (const label of ['甲', '甲乙', '甲乙丙']) h = commit(h, setKeyword(h.present, a, 'x-label', { 'zh-CN': label }), `label:${a}`)
    expect(h.past).toHaveLength(1)
    h = commit(h, setKeyword(h.present, a, 'description', 'd'), `desc:${a}`)
    h = seal(h)
    h = commit(h, setKeyword(h.present, a, 'description', 'dd'), `desc:${a}`)
    expect(h.past).toHaveLength(3)
    h = undo(undo(h))
    expect(toDefinition(h.present).schema.properties.a['x-label']).toEqual({ 'zh-CN': '甲乙丙' })
    expect(undo(h).present).toBe(s0)
  })

  it(`keeps at most ${historyLimit} steps`, () => {
    let h = createHistory(start())
    const a = fieldByKey(h.present, 'a')!.id
    for (let i = 0; i < historyLimit + 20; i++) h = commit(h, setKeyword(h.present, a, 'description', `v${i}`))
    expect(h.past).toHaveLength(historyLimit)
  })
})
