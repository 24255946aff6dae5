// Departments come as a flat list with parent ids (GET /api/v1/departments, open to every
// signed-in user); the department picker shows them as a tree. Pure: unit-tested.
import type { Text } from '../api/types'

/** Department is engine.Department. */
export interface Department {
  id: string
  name: Text
  parent?: string
  head?: string
  rev: number
}

/** TreeNode is one department as el-tree-select takes it. */
export interface TreeNode {
  value: string
  label: string
  children?: TreeNode[]
}

/**
 * departmentTree nests departments under their parents, each level sorted by name. A
 * department whose parent is unknown — or that sits in a parent cycle written behind the
 * engine's back — is shown at the top rather than lost.
 */
export function departmentTree(list: Department[], label: (name: Text, id: string) => string): TreeNode[] {
  const byId = new Map(list.map((d) => [d.id, d]))
  const children = new Map<string, Department[]>()
  const roots: Department[] = []
  const inCycle = (d: Department) => {
    const seen = new Set<string>([d.id])
    for (let p = d.parent; p; p = byId.get(p)?.parent) {
      if (seen.has(p)) return true
      if (!byId.has(p)) return false
      seen.add(p)
    }
    return false
  }
  for (const d of list) {
    if (d.parent && byId.has(d.parent) && !inCycle(d)) {
      const c = children.get(d.parent) ?? []
      c.push(d)
      children.set(d.parent, c)
    } else {
      roots.push(d)
    }
  }
  const build = (ds: Department[], path: Set<string>): TreeNode[] =>
    ds
      .map((d) => ({ d, text: label(d.name, d.id) }))
      .sort((a, b) => a.text.localeCompare(b.text, 'zh-CN'))
      .map(({ d, text }) => {
        const kids = path.has(d.id) ? [] : children.get(d.id) ?? []
        const node: TreeNode = { value: d.id, label: text }
        if (kids.length) node.children = build(kids, new Set([...path, d.id]))
        return node
      })
  return build(roots, new Set())
}

/** TreeLine is one department as a line of the picker: indented by depth, found by its path. */
export interface TreeLine {
  value: string
  name: string
  /** path is the names from the top down ("工厂 / 质量部"): what the search matches and a chosen department shows. */
  path: string
  depth: number
}

/** treeLines lists a tree depth first, each department after its parent. */
export function treeLines(nodes: TreeNode[], parents: string[] = []): TreeLine[] {
  return nodes.flatMap((n) => [
    { value: n.value, name: n.label, path: [...parents, n.label].join(' / '), depth: parents.length },
    ...treeLines(n.children ?? [], [...parents, n.label]),
  ])
}
