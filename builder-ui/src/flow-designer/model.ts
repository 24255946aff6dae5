// The flow designer's model: a flow definition (workflow.Definition, docs/workflow.md: a graph of
// nodes joined by next pointers) as the tree the designer draws (DingTalk/Feishu style: a column
// of nodes, condition and parallel branches side by side, each branch a column of its own).
// Pure functions over immutable values: a change returns a new tree and shares what it did not
// touch, so history.ts (the form designer's undo stack) keeps every step cheaply.
//
// Graph to tree: a block follows next pointers until the point where it meets its siblings (the
// merge of a condition's branches, the join of a parallel node) or an end node. A condition's
// merge is the first node all of its branches reach (else the first most of them reach); a
// branch that ends on an end node of its own keeps that end in its block. Tree to graph writes
// the pointers back, so definition → tree → definition gives the same nodes, and tree →
// definition → tree the same tree.
import type { Text } from '../api/types'

/** Assignee is workflow.Assignee. */
export interface Assignee {
  kind: 'user' | 'role' | 'dept_head' | 'field' | 'manager' | 'initiator' | string
  users?: string[]
  role?: string
  levels?: number
  field?: string
}

/** Timers is workflow.Timers. */
export interface Timers {
  remindAfter?: string
  timeoutAfter?: string
  action?: string
  escalate?: Assignee[]
  workingHours?: boolean
}

/** Branch is workflow.Branch. */
export interface Branch {
  name?: Text
  when: string
  next?: string
}

/** FlowNode is workflow.Node. */
export interface FlowNode {
  id: string
  type: string
  name?: Text
  next?: string
  mode?: string
  percent?: number
  assignees?: Assignee[]
  onEmpty?: string
  fields?: { visible?: string[]; editable?: string[] }
  timers?: Timers
  rejectTo?: string
  /** requireSignature (approval, fill): true = every decision needs a handwritten signature; a list = those decisions. */
  requireSignature?: boolean | string[]
  branches?: Branch[]
  default?: string
  paths?: string[]
  join?: string
  action?: string
  params?: Record<string, unknown>
  outcome?: string
  setStatus?: string
  [k: string]: unknown
}

/** signatureDecisions are the decisions a node's requireSignature may name, by node type (docs/workflow.md). */
export const signatureDecisions: Record<string, string[]> = {
  approval: ['approve', 'reject', 'return'],
  fill: ['submit', 'return'],
}

/** signedDecisions lists the decisions of a node that need a signature (true: all of its type's), in the type's order. */
export function signedDecisions(n: FlowNode): string[] {
  const all = signatureDecisions[n.type] ?? []
  const r = n.requireSignature
  if (r === true) return [...all]
  if (Array.isArray(r)) return all.filter((d) => r.includes(d))
  return []
}

/** signatureSetting is the requireSignature for the picked decisions: none → undefined (omitted), all of the type's → true, else the list. */
export function signatureSetting(type: string, picked: readonly string[]): boolean | string[] | undefined {
  const all = signatureDecisions[type] ?? []
  const list = all.filter((d) => picked.includes(d))
  if (!list.length) return undefined
  return list.length === all.length ? true : list
}

/** FlowDef is workflow.Definition. */
export interface FlowDef {
  key: string
  name: Text
  form: string
  trigger: { on: string; when?: string }
  nodes: FlowNode[]
}

/** Block is a column of items: it ends at an end node, jumps to a node placed elsewhere, or flows on to what follows it. */
export interface Block {
  items: Item[]
  end?: FlowNode
  jump?: string
}

/** NodeItem is a node with one next (approval, fill, notify, action). Its node carries no next. */
export interface NodeItem {
  kind: 'node'
  node: FlowNode
}

/** TreeBranch is one condition branch with the column it leads to. */
export interface TreeBranch {
  name?: Text
  when: string
  body: Block
}

/** ConditionItem is a condition node (without branches and default) and its branches side by side. */
export interface ConditionItem {
  kind: 'condition'
  node: FlowNode
  branches: TreeBranch[]
  /** otherwise is the default branch (其他情况). */
  otherwise: Block
}

/** ParallelItem is a parallel node (without paths and join), its paths and its join node (without next). */
export interface ParallelItem {
  kind: 'parallel'
  node: FlowNode
  join: FlowNode
  paths: Block[]
}

export type Item = NodeItem | ConditionItem | ParallelItem

/** FlowTree is the designer's state. */
export interface FlowTree {
  meta: Omit<FlowDef, 'nodes'>
  start: FlowNode
  body: Block
  /** extra holds nodes no path reaches (kept so nothing is lost; the engine refuses them). */
  extra: FlowNode[]
}

function omit<T extends object>(o: T, ...keys: string[]): T {
  const r = { ...o } as Record<string, unknown>
  for (const k of keys) delete r[k]
  return r as T
}

/** fromDefinition makes the tree of a definition. */
export function fromDefinition(def: FlowDef): FlowTree {
  const byId = new Map<string, FlowNode>()
  for (const n of def.nodes ?? []) if (!byId.has(n.id)) byId.set(n.id, n)
  const placed = new Set<string>()
  const merges = new Map<string, string | undefined>()

  // spine lists the ids a path passes through, stepping over nested conditions and parallels.
  const spine = (head: string | undefined, depth: number): string[] => {
    const out: string[] = []
    const seen = new Set<string>()
    while (head && !seen.has(head) && depth < 64) {
      seen.add(head)
      out.push(head)
      const n = byId.get(head)
      if (!n || n.type === 'end') break
      if (n.type === 'condition') head = mergeOf(n, depth + 1)
      else if (n.type === 'parallel') {
        if (n.join) out.push(n.join)
        head = n.join ? byId.get(n.join)?.next : undefined
      } else head = n.next
    }
    return out
  }
  const mergeOf = (n: FlowNode, depth: number): string | undefined => {
    if (merges.has(n.id)) return merges.get(n.id)
    merges.set(n.id, undefined) // a cycle through here has no merge
    const chains = [...(n.branches ?? []).map((b) => b.next), n.default].map((h) => spine(h, depth))
    const count = new Map<string, number>()
    for (const c of chains) for (const id of new Set(c)) count.set(id, (count.get(id) ?? 0) + 1)
    let best = 1
    for (const v of count.values()) best = Math.max(best, v)
    let merge: string | undefined
    if (best >= 2) {
      outer: for (const c of chains) for (const id of c) if (count.get(id) === best) { merge = id; break outer }
    }
    merges.set(n.id, merge)
    return merge
  }

  const block = (head: string | undefined, stop: string | undefined): Block => {
    const items: Item[] = []
    for (;;) {
      if (!head || head === stop) return { items }
      const n = byId.get(head)
      if (!n || placed.has(head)) return { items, jump: head }
      placed.add(head)
      if (n.type === 'end') return { items, end: n }
      if (n.type === 'condition') {
        const merge = mergeOf(n, 0)
        const branches = (n.branches ?? []).map((b) => ({ ...omit(b, 'next'), body: block(b.next, merge) }) as TreeBranch)
        const otherwise = block(n.default, merge)
        items.push({ kind: 'condition', node: omit(n, 'branches', 'default'), branches, otherwise })
        head = merge
      } else if (n.type === 'parallel') {
        const j = n.join ? byId.get(n.join) : undefined
        if (j) placed.add(j.id)
        const paths = (n.paths ?? []).map((p) => block(p, n.join))
        items.push({ kind: 'parallel', node: omit(n, 'paths', 'join'), join: j ? omit(j, 'next') : { id: n.join ?? '', type: 'join' }, paths })
        head = j?.next
      } else {
        items.push({ kind: 'node', node: omit(n, 'next') })
        head = n.next
      }
    }
  }

  const starts = (def.nodes ?? []).filter((n) => n.type === 'start')
  const start = starts[0] ?? { id: 'start', type: 'start' }
  placed.add(start.id)
  const body = block(start.next, undefined)
  const extra = (def.nodes ?? []).filter((n) => !placed.has(n.id))
  for (const n of extra) placed.add(n.id)
  const { nodes: _nodes, ...meta } = def
  return { meta, start: omit(start, 'next'), body, extra }
}

/** toDefinition writes the tree back as a definition (nodes in the order the tree draws them). */
export function toDefinition(t: FlowTree): FlowDef {
  const out: FlowNode[] = []
  const withNext = (n: FlowNode, next: string | undefined): FlowNode => (next === undefined ? { ...n } : { ...n, next })
  const emitBlock = (b: Block, cont: string | undefined): string | undefined => {
    const tail = b.end ? b.end.id : b.jump !== undefined ? b.jump : cont
    b.items.forEach((it, i) => emitItem(it, i + 1 < b.items.length ? b.items[i + 1].node.id : tail))
    if (b.end) out.push({ ...b.end })
    return b.items.length ? b.items[0].node.id : tail
  }
  const emitItem = (it: Item, next: string | undefined) => {
    if (it.kind === 'node') {
      out.push(withNext(it.node, next))
    } else if (it.kind === 'condition') {
      const n: FlowNode = { ...it.node, branches: [] }
      out.push(n)
      n.branches = it.branches.map(({ body, ...b }) => {
        const to = emitBlock(body, next)
        return to === undefined ? { ...b } : { ...b, next: to }
      })
      const d = emitBlock(it.otherwise, next)
      if (d !== undefined) n.default = d
    } else {
      const n: FlowNode = { ...it.node, paths: [], join: it.join.id }
      out.push(n)
      n.paths = it.paths.map((p) => emitBlock(p, it.join.id) ?? it.join.id)
      out.push(withNext(it.join, next))
    }
  }
  const startNode: FlowNode = { ...t.start }
  out.push(startNode)
  const first = emitBlock(t.body, undefined)
  if (first !== undefined) startNode.next = first
  out.push(...t.extra.map((n) => ({ ...n })))
  return { ...t.meta, nodes: out }
}

/** stable is a JSON text with sorted keys and without undefined values, for comparing values. */
export function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x) => {
    if (x && typeof x === 'object' && !Array.isArray(x)) {
      const o: Record<string, unknown> = {}
      for (const k of Object.keys(x).sort()) if (x[k] !== undefined) o[k] = x[k]
      return o
    }
    return x
  })
}

/** sameDefinition says whether two definitions have the same settings and nodes, in any order. */
export function sameDefinition(a: FlowDef, b: FlowDef): boolean {
  const norm = (d: FlowDef) => stable({ ...d, nodes: [...d.nodes].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)) })
  return norm(a) === norm(b)
}

// ---- Addressing: every block has a key: "root", "<condition id>/b<i>", "<condition id>/default", "<parallel id>/p<i>".

export const ROOT = 'root'

export function branchKey(cond: string, i: number): string {
  return `${cond}/b${i}`
}
export function defaultKey(cond: string): string {
  return `${cond}/default`
}
export function pathKey(par: string, i: number): string {
  return `${par}/p${i}`
}

/** mapBlocks rebuilds the tree through f, called on every block with its key (innermost first); unchanged blocks stay the same object. */
function mapBlocks(t: FlowTree, f: (key: string, b: Block) => Block): FlowTree {
  const walk = (key: string, b: Block): Block => {
    let changed = false
    const items = b.items.map((it) => {
      if (it.kind === 'condition') {
        const branches = it.branches.map((br, i) => {
          const body = walk(branchKey(it.node.id, i), br.body)
          return body === br.body ? br : { ...br, body }
        })
        const otherwise = walk(defaultKey(it.node.id), it.otherwise)
        if (otherwise === it.otherwise && branches.every((x, i) => x === it.branches[i])) return it
        changed = true
        return { ...it, branches, otherwise }
      }
      if (it.kind === 'parallel') {
        const paths = it.paths.map((p, i) => walk(pathKey(it.node.id, i), p))
        if (paths.every((x, i) => x === it.paths[i])) return it
        changed = true
        return { ...it, paths }
      }
      return it
    })
    return f(key, changed ? { ...b, items } : b)
  }
  const body = walk(ROOT, t.body)
  return body === t.body ? t : { ...t, body }
}

/** mapItems rebuilds the tree through f, called on every item. */
function mapItems(t: FlowTree, f: (it: Item) => Item): FlowTree {
  return mapBlocks(t, (_k, b) => {
    const items = b.items.map(f)
    return items.every((x, i) => x === b.items[i]) ? b : { ...b, items }
  })
}

/** allNodes lists every node of the tree (start, items, joins, ends, extra). */
export function allNodes(t: FlowTree): FlowNode[] {
  const out: FlowNode[] = [t.start]
  const walk = (b: Block) => {
    for (const it of b.items) {
      out.push(it.node)
      if (it.kind === 'condition') {
        it.branches.forEach((br) => walk(br.body))
        walk(it.otherwise)
      } else if (it.kind === 'parallel') {
        it.paths.forEach(walk)
        out.push(it.join)
      }
    }
    if (b.end) out.push(b.end)
  }
  walk(t.body)
  return [...out, ...t.extra]
}

/** findNode finds a node by id anywhere in the tree. */
export function findNode(t: FlowTree, id: string): FlowNode | undefined {
  return allNodes(t).find((n) => n.id === id)
}

/** newId is an id not used in the tree, from a prefix: approval_1, approval_2, … */
export function newId(t: FlowTree, prefix: string): string {
  const used = new Set(allNodes(t).map((n) => n.id))
  for (let i = 1; ; i++) if (!used.has(`${prefix}_${i}`)) return `${prefix}_${i}`
}

/** AddKind is what the "+" between nodes adds. */
export type AddKind = 'approval' | 'fill' | 'notify' | 'condition' | 'parallel' | 'action'

/** newItem makes the item the "+" adds, with defaults the designer then edits. */
export function newItem(t: FlowTree, kind: AddKind, name?: Text): Item {
  const id = newId(t, kind)
  switch (kind) {
    case 'approval':
      return { kind: 'node', node: { id, type: 'approval', name, mode: 'any', assignees: [] } }
    case 'fill':
      return { kind: 'node', node: { id, type: 'fill', name, assignees: [] } }
    case 'notify':
      return { kind: 'node', node: { id, type: 'notify', name, assignees: [] } }
    case 'action':
      return { kind: 'node', node: { id, type: 'action', name, action: 'record.set_status', params: {} } }
    case 'condition':
      return { kind: 'condition', node: { id, type: 'condition', name }, branches: [{ when: '', body: { items: [] } }], otherwise: { items: [] } }
    case 'parallel': {
      const join = `${id}_join`
      return { kind: 'parallel', node: { id, type: 'parallel', name }, join: { id: join, type: 'join' }, paths: [{ items: [] }, { items: [] }] }
    }
  }
}

/** insertItem puts an item into a block at index. */
export function insertItem(t: FlowTree, blockKey: string, index: number, item: Item): FlowTree {
  return mapBlocks(t, (k, b) => {
    if (k !== blockKey) return b
    const items = [...b.items]
    items.splice(Math.max(0, Math.min(index, items.length)), 0, item)
    return { ...b, items }
  })
}

/** removeItem takes the item whose node has this id out of the tree, with all it holds. */
export function removeItem(t: FlowTree, id: string): FlowTree {
  return mapBlocks(t, (_k, b) => (b.items.some((it) => it.node.id === id) ? { ...b, items: b.items.filter((it) => it.node.id !== id) } : b))
}

/** addBranch adds a condition branch (before the default) or a parallel path. */
export function addBranch(t: FlowTree, id: string, name?: Text): FlowTree {
  return mapItems(t, (it) => {
    if (it.node.id !== id) return it
    if (it.kind === 'condition') return { ...it, branches: [...it.branches, { name, when: '', body: { items: [] } }] }
    if (it.kind === 'parallel') return { ...it, paths: [...it.paths, { items: [] }] }
    return it
  })
}

/**
 * removeBranch removes branch i of a condition or path i of a parallel node. The last condition
 * branch (the default stays) or a parallel's one remaining path removes the whole item, as
 * DingTalk does.
 */
export function removeBranch(t: FlowTree, id: string, i: number): FlowTree {
  let drop = false
  const r = mapItems(t, (it) => {
    if (it.node.id !== id) return it
    if (it.kind === 'condition') {
      if (it.branches.length <= 1) drop = true
      return { ...it, branches: it.branches.filter((_, j) => j !== i) }
    }
    if (it.kind === 'parallel') {
      if (it.paths.length <= 2) drop = true
      return { ...it, paths: it.paths.filter((_, j) => j !== i) }
    }
    return it
  })
  return drop ? removeItem(t, id) : r
}

/** setBranch changes a condition branch's name or condition. */
export function setBranch(t: FlowTree, id: string, i: number, patch: Partial<Pick<TreeBranch, 'name' | 'when'>>): FlowTree {
  return mapItems(t, (it) => {
    if (it.node.id !== id || it.kind !== 'condition' || !it.branches[i]) return it
    return { ...it, branches: it.branches.map((b, j) => (j === i ? { ...b, ...patch } : b)) }
  })
}

/** moveBranch moves condition branch i by delta places (branches are tried in order). */
export function moveBranch(t: FlowTree, id: string, i: number, delta: number): FlowTree {
  return mapItems(t, (it) => {
    const j = i + delta
    if (it.node.id !== id || it.kind !== 'condition' || j < 0 || j >= it.branches.length) return it
    const branches = [...it.branches]
    ;[branches[i], branches[j]] = [branches[j], branches[i]]
    return { ...it, branches }
  })
}

/** updateNode replaces a node's settings (not its id, type or pointers): keys set to undefined are dropped. */
export function updateNode(t: FlowTree, id: string, patch: Partial<FlowNode>): FlowTree {
  const apply = (n: FlowNode): FlowNode => {
    const r: FlowNode = { ...n }
    for (const [k, v] of Object.entries(patch)) {
      if (k === 'id' || k === 'type' || k === 'next' || k === 'branches' || k === 'default' || k === 'paths' || k === 'join') continue
      if (v === undefined) delete r[k]
      else r[k] = v
    }
    return r
  }
  if (t.start.id === id) return { ...t, start: apply(t.start) }
  const ends = (b: Block): Block => (b.end?.id === id ? { ...b, end: apply(b.end) } : b)
  return mapBlocks(mapItems(t, (it) => (it.node.id === id ? { ...it, node: apply(it.node) } : it)), (_k, b) => ends(b))
}

/** setMeta changes the flow's name, trigger or form. */
export function setMeta(t: FlowTree, patch: Partial<FlowTree['meta']>): FlowTree {
  return { ...t, meta: { ...t.meta, ...patch } }
}

/** newFlow is the tree of a new flow on a form: 发起人 → end (approved). */
export function newFlow(key: string, name: Text, form: string): FlowTree {
  return {
    meta: { key, name, form, trigger: { on: 'create' } },
    start: { id: 'start', type: 'start' },
    body: { items: [], end: { id: 'end', type: 'end', outcome: 'approved' } },
    extra: [],
  }
}

/**
 * problemPlaces maps the server's compile errors (JSON pointers into the definition it was sent:
 * "/nodes/3/branches/0/when") to the node ids they name, with "<id>/b<i>" for a branch.
 * Pointers that name no node go under "".
 */
export function problemPlaces(def: FlowDef, fields: { field: string; message: string }[]): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  const add = (k: string, m: string) => (out[k] ??= []).push(m)
  for (const f of fields) {
    const m = /^\/?nodes[/.](\d+)(?:[/.]branches[/.](\d+))?/.exec(f.field)
    const node = m ? def.nodes[Number(m[1])] : undefined
    if (!node) {
      add('', f.field ? `${f.field}: ${f.message}` : f.message)
      continue
    }
    add(m?.[2] !== undefined ? branchKey(node.id, Number(m[2])) : node.id, f.message)
  }
  return out
}
