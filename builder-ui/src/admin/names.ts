// Names the admin screens show for roles and departments: their label in the app's language,
// and a department's place in the tree.
import { tx } from '../components/text'
import type { Department, Role } from './api'

/** roleName is a role's label, else its name. */
export function roleName(roles: Role[], name: string): string {
  return tx(roles.find((r) => r.name === name)?.label, name)
}

/** departmentPath is a department's names from the top of the tree down ("工厂 / 质量部"). */
export function departmentPath(ds: Department[], id: string | undefined): string {
  if (!id) return ''
  const byId = new Map(ds.map((d) => [d.id, d]))
  const names: string[] = []
  for (let cur = byId.get(id), depth = 0; cur && depth < 64; cur = cur.parent ? byId.get(cur.parent) : undefined, depth++) {
    names.unshift(tx(cur.name, cur.id))
  }
  return names.length ? names.join(' / ') : id
}

/** DepartmentNode is a department with its children, for the tree. */
export interface DepartmentNode {
  id: string
  label: string
  dept: Department
  children: DepartmentNode[]
}

/**
 * departmentTree arranges departments under their parents, each level by name. A department
 * whose parent is missing (or part of a cycle written behind the server's back) is a root.
 */
export function departmentTree(ds: Department[]): DepartmentNode[] {
  const nodes = new Map(ds.map((d) => [d.id, { id: d.id, label: tx(d.name, d.id), dept: d, children: [] as DepartmentNode[] }]))
  const roots: DepartmentNode[] = []
  const reachesRoot = (d: Department): boolean => {
    const seen = new Set<string>()
    for (let cur: Department | undefined = d; cur; cur = cur.parent ? nodes.get(cur.parent)?.dept : undefined) {
      if (seen.has(cur.id)) return false
      seen.add(cur.id)
    }
    return true
  }
  for (const d of ds) {
    const n = nodes.get(d.id)!
    const parent = d.parent ? nodes.get(d.parent) : undefined
    if (parent && reachesRoot(d)) parent.children.push(n)
    else roots.push(n)
  }
  const sort = (list: DepartmentNode[]) => {
    list.sort((a, b) => a.label.localeCompare(b.label, 'zh-CN'))
    list.forEach((n) => sort(n.children))
  }
  sort(roots)
  return roots
}
