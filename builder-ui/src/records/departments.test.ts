import { describe, expect, it } from 'vitest'
import { departmentTree, treeLines, type Department } from './departments'

const d = (id: string, name: string, parent?: string): Department => ({ id, name: { 'zh-CN': name, en: id }, parent, rev: 1 })
const zh = (n: { 'zh-CN'?: string }, id: string) => n['zh-CN'] || id

describe('departmentTree', () => {
  it('nests departments under their parents, sorted by name', () => {
    const tree = departmentTree([d('qc', '质量部', 'plant'), d('plant', '工厂'), d('wh', '仓储部', 'plant'), d('lab', '化验室', 'qc')], zh)
    expect(tree).toEqual([
      { value: 'plant', label: '工厂', children: [
        { value: 'wh', label: '仓储部' },
        { value: 'qc', label: '质量部', children: [{ value: 'lab', label: '化验室' }] },
      ] },
    ])
  })
  it('keeps departments with an unknown parent or in a cycle at the top', () => {
    const tree = departmentTree([d('a', 'A', 'b'), d('b', 'B', 'a'), d('c', 'C', 'gone')], zh)
    expect(tree.map((n) => n.value).sort()).toEqual(['a', 'b', 'c'])
  })
})

describe('treeLines', () => {
  it('lists each department after its parent, with its depth and path', () => {
    const tree = departmentTree([d('qc', '质量部', 'plant'), d('plant', '工厂'), d('lab', '化验室', 'qc'), d('hq', '总部')], zh)
    expect(treeLines(tree)).toEqual([
      { value: 'plant', name: '工厂', path: '工厂', depth: 0 },
      { value: 'qc', name: '质量部', path: '工厂 / 质量部', depth: 1 },
      { value: 'lab', name: '化验室', path: '工厂 / 质量部 / 化验室', depth: 2 },
      { value: 'hq', name: '总部', path: '总部', depth: 0 },
    ])
  })
})
