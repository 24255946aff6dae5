// The form designer's state: a plain, immutable model of a form definition and the pure
// functions that change it. The definition stays the server's JSON Schema + x- document
// (docs/forms.md); the state only gives its parts stable ids so the canvas can key them, drag
// them and rename fields without losing track. Every change returns a new state that shares
// what it did not touch, so the undo stack is a list of states and the canvas re-renders only
// the fields whose objects changed.
import type { FieldSchema, LayoutItem, Text } from '../api/types'

/** FieldId names a field (top-level or a sub-table column) for the designer's lifetime. */
export type FieldId = string
/** NodeId names one layout item: a placed field, a group or a set of tabs. */
export type NodeId = string
/** ContainerId names a list of layout items: 'root', a group's node id, or a tab's id. */
export type ContainerId = string

export const ROOT: ContainerId = 'root'

/** Permission is forms.Permission: what one role may do with the form's records. */
export interface Permission {
  actions: string[]
  scope?: string
  condition?: string
  hidden?: string[]
  readOnly?: string[]
  [k: string]: unknown
}

/** FormHead is a definition's own keys besides its schema and layout. */
export interface FormHead {
  key: string
  name: Text
  description?: Text
  group?: Text
  titleField?: string
  status?: unknown
  permissions?: Record<string, Permission>
}

/** FormRest is FormHead with whatever other keys a definition has (kept as they are). */
export type FormRest = FormHead & { [k: string]: unknown }

/** FormDoc is a form definition as the server stores it (unknown keys are kept as they are). */
export type FormDoc = FormRest & {
  schema: SchemaDoc
  layout?: LayoutDoc
}

export interface SchemaDoc {
  type?: string
  required?: string[]
  properties: Record<string, FieldSchema>
  [k: string]: unknown
}

export interface LayoutDoc {
  columns?: number
  items: LayoutItem[]
  [k: string]: unknown
}

/** FieldState is one field: its schema property without `items` (columns are listed instead). */
export interface FieldState {
  readonly id: FieldId
  readonly key: string
  readonly prop: FieldSchema
  /** parent is the sub-table a column belongs to. */
  readonly parent?: FieldId
  /** columns are a sub-table's columns in order; itemsRest and required are its items' other keys. */
  readonly columns?: readonly FieldId[]
  readonly itemsRest?: Readonly<Record<string, unknown>>
  readonly required?: readonly string[]
  /** keys and itemsKeys remember a sub-table's key order, so it is written back as it was read. */
  readonly keys?: readonly string[]
  readonly itemsKeys?: readonly string[]
}

/** ItemProps are a layout item's keys other than kind, field, items and tabs (span, label, columns). */
export type ItemProps = Readonly<Omit<LayoutItem, 'kind' | 'field' | 'items' | 'tabs'>>

export type NodeState =
  | { readonly id: NodeId; readonly kind: 'field'; readonly field: FieldId; readonly props: ItemProps }
  | { readonly id: NodeId; readonly kind: 'group'; readonly props: ItemProps }
  | { readonly id: NodeId; readonly kind: 'tabs'; readonly props: ItemProps; readonly tabs: readonly TabState[] }

/** TabState is one tab; its items are the container of the same id. */
export interface TabState {
  readonly id: ContainerId
  readonly props: Readonly<Record<string, unknown>> & { readonly label: Text }
}

/** DesignerState is the whole form as the designer holds it. */
export interface DesignerState {
  /** form is the definition without schema and layout (key, name, group, permissions, …). */
  readonly form: Readonly<FormRest>
  readonly schemaRest: Readonly<Record<string, unknown>>
  /** required lists the required top-level fields' keys, in the definition's order. */
  readonly required?: readonly string[]
  /** order is the top-level fields in the schema's property order. */
  readonly order: readonly FieldId[]
  readonly fields: Readonly<Record<FieldId, FieldState>>
  /** layoutGiven tells that the definition had a layout (kept even when it adds nothing). */
  readonly layoutGiven: boolean
  readonly layoutRest: Readonly<Record<string, unknown>>
  readonly nodes: Readonly<Record<NodeId, NodeState>>
  readonly containers: Readonly<Record<ContainerId, readonly NodeId[]>>
  /** seq numbers the next id. */
  readonly seq: number
  /** defKeys and schemaKeys remember the key order of the definition and its schema. */
  readonly defKeys?: readonly string[]
  readonly schemaKeys?: readonly string[]
  readonly layoutKeys?: readonly string[]
}

/** Place is where something goes: a container and an index in it. */
export interface Place {
  container: ContainerId
  index: number
}

export const fieldKeyPattern = /^[a-z][a-z0-9_]{0,39}$/
/** reservedKeys are names expressions use for themselves (docs/forms.md). */
export const reservedKeys = new Set(['id', 'status', 'user', 'record', 'row', 'parent', 'now', 'today'])
/** maxFields is the meta-schema's limit of properties in one schema. */
export const maxFields = 300

/** ordered puts o's keys in the order of keys (those it does not name after them). */
function ordered<T extends object>(o: T, keys: readonly string[] | undefined): T {
  if (!keys) return o
  const src = o as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const k of keys) if (k in src) out[k] = src[k]
  for (const k of Object.keys(src)) if (!(k in out)) out[k] = src[k]
  return out as T
}

function omit<T extends object, K extends string>(o: T, ...keys: K[]): Omit<T, K> {
  const out = { ...o } as Record<string, unknown>
  for (const k of keys) delete out[k]
  return out as Omit<T, K>
}

// ---------------------------------------------------------------------------------------------
// definition → state

/** fromDefinition reads a definition into a designer state. */
export function fromDefinition(def: FormDoc): DesignerState {
  let seq = 1
  const nextId = (p: string) => `${p}${seq++}`
  const fields: Record<FieldId, FieldState> = {}
  const order: FieldId[] = []
  const byKey = new Map<string, FieldId>()

  const readField = (key: string, prop: FieldSchema, parent?: FieldId): FieldId => {
    const id = nextId('f')
    if (prop['x-type'] === 'subtable' && !parent && prop.items && typeof prop.items === 'object') {
      const items = prop.items as { properties?: Record<string, FieldSchema>; required?: string[] }
      const columns: FieldId[] = []
      fields[id] = { id, key, prop: omit(prop, 'items') as FieldSchema, columns }
      for (const [ck, cp] of Object.entries(items.properties ?? {})) columns.push(readField(ck, cp, id))
      const f: FieldState = { ...fields[id], itemsRest: omit(items, 'properties', 'required'), keys: Object.keys(prop), itemsKeys: Object.keys(items) }
      fields[id] = items.required ? { ...f, required: [...items.required] } : f
    } else {
      fields[id] = parent ? { id, key, prop, parent } : { id, key, prop }
    }
    return id
  }
  for (const [key, prop] of Object.entries(def.schema?.properties ?? {})) {
    const id = readField(key, prop)
    order.push(id)
    byKey.set(key, id)
  }

  const nodes: Record<NodeId, NodeState> = {}
  const containers: Record<ContainerId, NodeId[]> = { [ROOT]: [] }
  const placed = new Set<FieldId>()
  const readItems = (items: LayoutItem[] | undefined, into: NodeId[]) => {
    for (const it of items ?? []) {
      if (it.kind === 'field') {
        const fid = it.field ? byKey.get(it.field) : undefined
        if (!fid || placed.has(fid)) continue // the runtime skips these too
        placed.add(fid)
        const id = nextId('n')
        nodes[id] = { id, kind: 'field', field: fid, props: omit(it, 'kind', 'field', 'items', 'tabs') }
        into.push(id)
      } else if (it.kind === 'group') {
        const id = nextId('n')
        nodes[id] = { id, kind: 'group', props: omit(it, 'kind', 'field', 'items', 'tabs') }
        containers[id] = []
        into.push(id)
        readItems(it.items, containers[id])
      } else if (it.kind === 'tabs') {
        const id = nextId('n')
        const tabs: TabState[] = (it.tabs ?? []).map((tab) => {
          const tid = nextId('t')
          containers[tid] = []
          return { id: tid, props: omit(tab, 'items') as TabState['props'] }
        })
        nodes[id] = { id, kind: 'tabs', props: omit(it, 'kind', 'field', 'items', 'tabs'), tabs }
        into.push(id)
        ;(it.tabs ?? []).forEach((tab, i) => readItems(tab.items, containers[tabs[i].id]))
      }
    }
  }
  readItems(def.layout?.items, containers[ROOT])
  // Fields the layout leaves out are shown after it, as the record form shows them.
  for (const fid of order) {
    if (placed.has(fid)) continue
    const id = nextId('n')
    nodes[id] = { id, kind: 'field', field: fid, props: {} }
    containers[ROOT].push(id)
  }

  const schemaRest = omit(def.schema ?? { properties: {} }, 'properties', 'required')
  const state: DesignerState = {
    form: omit(def, 'schema', 'layout') as FormRest,
    schemaRest,
    order,
    fields,
    layoutGiven: def.layout !== undefined,
    layoutRest: def.layout ? omit(def.layout, 'items') : {},
    nodes,
    containers,
    seq,
    defKeys: Object.keys(def),
    schemaKeys: Object.keys(def.schema ?? {}),
    ...(def.layout ? { layoutKeys: Object.keys(def.layout) } : {}),
  }
  return def.schema?.required ? { ...state, required: [...def.schema.required] } : state
}

// ---------------------------------------------------------------------------------------------
// state → definition

/** fieldProperty is a field's schema property as the definition has it (columns inside items). */
export function fieldProperty(s: DesignerState, f: FieldState): FieldSchema {
  if (!f.columns) return f.prop
  const properties: Record<string, FieldSchema> = {}
  for (const cid of f.columns) {
    const c = s.fields[cid]
    properties[c.key] = fieldProperty(s, c)
  }
  const items: Record<string, unknown> = { ...(f.itemsRest ?? { type: 'object' }), properties }
  if (f.required) items.required = [...f.required]
  return ordered({ ...f.prop, items: ordered(items, f.itemsKeys) }, f.keys) as FieldSchema
}

function layoutItems(s: DesignerState, c: ContainerId): LayoutItem[] {
  return (s.containers[c] ?? []).map((nid) => {
    const n = s.nodes[nid]
    if (n.kind === 'field') return { kind: 'field', field: s.fields[n.field].key, ...n.props } as LayoutItem
    if (n.kind === 'group') return { kind: 'group', ...n.props, items: layoutItems(s, n.id) } as LayoutItem
    return {
      kind: 'tabs',
      ...n.props,
      tabs: n.tabs.map((t) => ({ ...t.props, items: layoutItems(s, t.id) })),
    } as LayoutItem
  })
}

/**
 * layoutIsImplied tells that the layout says nothing the schema does not: every field once, in
 * property order, one per row, with no columns, groups or tabs. Such a layout is left out of a
 * definition that had none.
 */
export function layoutIsImplied(s: DesignerState): boolean {
  if (Object.keys(s.layoutRest).length) return false
  const root = s.containers[ROOT] ?? []
  if (root.length !== s.order.length) return false
  return root.every((nid, i) => {
    const n = s.nodes[nid]
    return n.kind === 'field' && n.field === s.order[i] && Object.keys(n.props).length === 0
  })
}

/** toDefinition writes the state back as a definition. */
export function toDefinition(s: DesignerState): FormDoc {
  const properties: Record<string, FieldSchema> = {}
  for (const fid of s.order) {
    const f = s.fields[fid]
    properties[f.key] = fieldProperty(s, f)
  }
  let schema: SchemaDoc = { ...s.schemaRest, properties }
  if (s.required) schema.required = [...s.required]
  schema = ordered(schema, s.schemaKeys)
  const def = { ...s.form, schema } as FormDoc
  if (s.layoutGiven || !layoutIsImplied(s)) def.layout = ordered({ ...s.layoutRest, items: layoutItems(s, ROOT) }, s.layoutKeys)
  return ordered(def, s.defKeys)
}

/** emptyForm is a new form's definition. */
export function emptyForm(key: string, name: Text): FormDoc {
  return { key, name, schema: { type: 'object', properties: {} } }
}

// ---------------------------------------------------------------------------------------------
// lookups

/** containerOf finds the container a node is in. */
export function containerOf(s: DesignerState, node: NodeId): ContainerId | undefined {
  for (const [c, items] of Object.entries(s.containers)) if (items.includes(node)) return c
  return undefined
}

/** nodeOfField finds the layout node that places a top-level field. */
export function nodeOfField(s: DesignerState, field: FieldId): NodeId | undefined {
  for (const n of Object.values(s.nodes)) if (n.kind === 'field' && n.field === field) return n.id
  return undefined
}

/** fieldByKey finds a top-level field (or, with parent, a column of that sub-table) by key. */
export function fieldByKey(s: DesignerState, key: string, parent?: FieldId): FieldState | undefined {
  const ids = parent ? s.fields[parent]?.columns ?? [] : s.order
  for (const id of ids) if (s.fields[id].key === key) return s.fields[id]
  return undefined
}

/** siblingsOf lists the fields a field sits among: the form's top-level fields, or its sub-table's columns. */
export function siblingsOf(s: DesignerState, f: FieldState): FieldState[] {
  const ids = f.parent ? s.fields[f.parent].columns ?? [] : s.order
  return ids.map((id) => s.fields[id])
}

/** isRequired tells whether a field is in its schema's required list. */
export function isRequired(s: DesignerState, f: FieldState): boolean {
  const list = f.parent ? s.fields[f.parent].required : s.required
  return !!list?.includes(f.key)
}

/** descendants lists the nodes inside a container, deep. */
function descendants(s: DesignerState, c: ContainerId): NodeId[] {
  const out: NodeId[] = []
  for (const nid of s.containers[c] ?? []) {
    out.push(nid)
    const n = s.nodes[nid]
    if (n.kind === 'group') out.push(...descendants(s, n.id))
    if (n.kind === 'tabs') for (const t of n.tabs) out.push(...descendants(s, t.id))
  }
  return out
}

/** containersIn lists a node's own containers and those nested in it. */
function containersIn(s: DesignerState, nid: NodeId): ContainerId[] {
  const n = s.nodes[nid]
  const own = n.kind === 'group' ? [n.id] : n.kind === 'tabs' ? n.tabs.map((t) => t.id) : []
  return own.flatMap((c) => [c, ...(s.containers[c] ?? []).flatMap((child) => containersIn(s, child))])
}

/** uniqueKey is base_1, base_2, … — the first key not taken among the given ones. */
export function uniqueKey(base: string, taken: Iterable<string>): string {
  const used = new Set(taken)
  let b = base.toLowerCase().replace(/[^a-z0-9_]/g, '_').replace(/^[^a-z]+/, '')
  if (!b) b = 'field'
  b = b.slice(0, 32)
  for (let i = 1; ; i++) {
    const k = `${b}_${i}`
    if (!used.has(k)) return k
  }
}

// ---------------------------------------------------------------------------------------------
// changes

function clampIndex(i: number, len: number): number {
  return Math.max(0, Math.min(len, Number.isFinite(i) ? Math.trunc(i) : len))
}

function insertAt<T>(list: readonly T[], index: number, item: T): T[] {
  const out = [...list]
  out.splice(clampIndex(index, out.length), 0, item)
  return out
}

function renameIn(list: readonly string[] | undefined, from: string, to: string): string[] | undefined {
  return list?.map((k) => (k === from ? to : k))
}

/** NewField is what adding a field needs: its type, labels and x-options; a key is chosen if none is given. */
export interface NewField {
  type: string
  label: Text
  key?: string
  options?: Record<string, unknown>
  /** columns are a new sub-table's first columns. */
  columns?: NewField[]
}

function makeField(s: DesignerState, nf: NewField, taken: string[], parent?: FieldId): { s: DesignerState; id: FieldId } {
  const id = `f${s.seq}`
  s = { ...s, seq: s.seq + 1 }
  const key = nf.key && fieldKeyPattern.test(nf.key) && !taken.includes(nf.key) ? nf.key : uniqueKey(nf.type, taken)
  const prop: FieldSchema = { 'x-type': nf.type, 'x-label': { ...nf.label } }
  if (nf.options && Object.keys(nf.options).length) prop['x-options'] = structuredClone(nf.options)
  let f: FieldState = parent ? { id, key, prop, parent } : { id, key, prop }
  if (nf.type === 'subtable' && !parent) {
    const columns: FieldId[] = []
    const colKeys: string[] = []
    for (const c of nf.columns ?? []) {
      const r = makeField(s, c, colKeys, id)
      s = r.s
      columns.push(r.id)
      colKeys.push(s.fields[r.id].key)
    }
    f = { ...f, columns, itemsRest: { type: 'object' } }
  }
  return { s: { ...s, fields: { ...s.fields, [id]: f } }, id }
}

/** addField adds a top-level field and places it; it returns the new state and the field's id. */
export function addField(s: DesignerState, nf: NewField, at: Place): { state: DesignerState; field: FieldId } {
  if (!s.containers[at.container]) at = { container: ROOT, index: Infinity }
  const r = makeField(s, nf, s.order.map((id) => s.fields[id].key))
  s = r.s
  const nid = `n${s.seq}`
  const node: NodeState = { id: nid, kind: 'field', field: r.id, props: {} }
  const containers = { ...s.containers, [at.container]: insertAt(s.containers[at.container], at.index, nid) }
  s = { ...s, seq: s.seq + 1, nodes: { ...s.nodes, [nid]: node }, containers }
  return { state: syncOrder(s, r.id), field: r.id }
}

/** addColumn adds a column to a sub-table at index. */
export function addColumn(s: DesignerState, subtable: FieldId, nf: NewField, index: number): { state: DesignerState; field: FieldId } {
  const st = s.fields[subtable]
  if (!st?.columns || nf.type === 'subtable') return { state: s, field: '' }
  const r = makeField(s, nf, st.columns.map((id) => s.fields[id].key), subtable)
  s = r.s
  const parent = s.fields[subtable]
  return { state: { ...s, fields: { ...s.fields, [subtable]: { ...parent, columns: insertAt(parent.columns ?? [], index, r.id) } } }, field: r.id }
}

/** LayoutKind is what the palette's 布局 items add. */
export type LayoutKind = 'group' | 'tabs'

/** addLayout adds a group (with props such as label and columns) or a set of tabs (with their labels). */
export function addLayout(
  s: DesignerState, kind: LayoutKind, at: Place, props: ItemProps, tabLabels: Text[] = [],
): { state: DesignerState; node: NodeId } {
  if (!s.containers[at.container]) at = { container: ROOT, index: Infinity }
  let seq = s.seq
  const nid = `n${seq++}`
  const containers: Record<ContainerId, readonly NodeId[]> = { ...s.containers }
  let node: NodeState
  if (kind === 'group') {
    node = { id: nid, kind: 'group', props: { ...props } }
    containers[nid] = []
  } else {
    const tabs = tabLabels.map((label) => {
      const tid = `t${seq++}`
      containers[tid] = []
      return { id: tid, props: { label: { ...label } } }
    })
    node = { id: nid, kind: 'tabs', props: { ...props }, tabs }
  }
  containers[at.container] = insertAt(containers[at.container], at.index, nid)
  return { state: { ...s, seq, nodes: { ...s.nodes, [nid]: node }, containers }, node: nid }
}

/**
 * moveNode moves a layout item to a place (index counted after it is taken out of its list).
 * A group or tabs item cannot go inside itself; such a move changes nothing.
 */
export function moveNode(s: DesignerState, node: NodeId, to: Place): DesignerState {
  const from = containerOf(s, node)
  if (!from || !s.containers[to.container]) return s
  if (containersIn(s, node).includes(to.container)) return s
  const without = s.containers[from].filter((n) => n !== node)
  const containers = { ...s.containers, [from]: without }
  const target = from === to.container ? without : containers[to.container]
  const moved = insertAt(target, to.index, node)
  if (from === to.container && moved.every((n, i) => n === s.containers[from][i])) return s
  containers[to.container] = moved
  return syncOrder({ ...s, containers })
}

/** moveColumn moves a sub-table's column from one index to another. */
export function moveColumn(s: DesignerState, subtable: FieldId, from: number, to: number): DesignerState {
  const st = s.fields[subtable]
  const cols = st?.columns
  if (!cols || from < 0 || from >= cols.length) return s
  const next = [...cols]
  const [c] = next.splice(from, 1)
  next.splice(clampIndex(to, next.length), 0, c)
  if (next.every((id, i) => id === cols[i])) return s
  return { ...s, fields: { ...s.fields, [subtable]: { ...st, columns: next } } }
}

/** forgetKeys drops removed fields' keys from the form's references (required, permissions, title). */
function forgetKeys(s: DesignerState, keys: string[]): DesignerState {
  if (!keys.length) return s
  const gone = new Set(keys)
  let form = s.form
  if (form.titleField && gone.has(form.titleField)) form = omit(form, 'titleField') as FormRest
  if (form.permissions) {
    const perms: Record<string, Permission> = {}
    for (const [role, p] of Object.entries(form.permissions)) {
      let q = p
      for (const list of ['hidden', 'readOnly'] as const) {
        const l = q[list]
        if (l?.some((k) => gone.has(k))) {
          const kept = l.filter((k) => !gone.has(k))
          q = kept.length ? { ...q, [list]: kept } : (omit(q, list) as Permission)
        }
      }
      perms[role] = q
    }
    form = { ...form, permissions: perms }
  }
  const out = { ...s, form }
  if (s.required?.some((k) => gone.has(k))) out.required = s.required.filter((k) => !gone.has(k))
  return out
}

/** removeNode removes a layout item; a field's field goes with it, a group or tabs with all inside. */
export function removeNode(s: DesignerState, node: NodeId): DesignerState {
  const from = containerOf(s, node)
  if (!from) return s
  const gone = [node, ...containersIn(s, node).flatMap((c) => descendants(s, c))]
  const nodes = { ...s.nodes }
  const fields = { ...s.fields }
  const keys: string[] = []
  for (const nid of gone) {
    const n = nodes[nid]
    if (n.kind === 'field') {
      keys.push(fields[n.field].key)
      for (const c of fields[n.field].columns ?? []) delete fields[c]
      delete fields[n.field]
    }
    delete nodes[nid]
  }
  const containers = { ...s.containers, [from]: s.containers[from].filter((n) => n !== node) }
  for (const c of containersIn(s, node)) delete containers[c]
  const order = s.order.filter((id) => fields[id])
  return forgetKeys({ ...s, nodes, fields, containers, order }, keys)
}

/** removeColumn removes a sub-table's column. */
export function removeColumn(s: DesignerState, column: FieldId): DesignerState {
  const c = s.fields[column]
  if (!c?.parent) return s
  const st = s.fields[c.parent]
  const fields = { ...s.fields }
  delete fields[column]
  let parent: FieldState = { ...st, columns: (st.columns ?? []).filter((id) => id !== column) }
  if (st.required?.includes(c.key)) parent = { ...parent, required: st.required.filter((k) => k !== c.key) }
  fields[st.id] = parent
  return { ...s, fields }
}

/**
 * syncOrder keeps the schema's property order the layout's reading order, so a record list's
 * columns follow the form. It changes nothing when the order already agrees (a definition read
 * as it is keeps its order). A newly added field (added) that the walk does not find stays last.
 */
function syncOrder(s: DesignerState, added?: FieldId): DesignerState {
  const walk: FieldId[] = []
  for (const nid of descendants(s, ROOT)) {
    const n = s.nodes[nid]
    if (n.kind === 'field') walk.push(n.field)
  }
  const inWalk = new Set(walk)
  const rest = [...s.order, ...(added && !s.order.includes(added) ? [added] : [])].filter((id) => !inWalk.has(id))
  const order = [...walk, ...rest]
  if (order.length === s.order.length && order.every((id, i) => id === s.order[i])) return s
  return { ...s, order }
}

/** updateField replaces a field's schema property (its items excepted) with what change makes of it. */
export function updateField(s: DesignerState, field: FieldId, change: (prop: FieldSchema) => FieldSchema): DesignerState {
  const f = s.fields[field]
  if (!f) return s
  const prop = change(f.prop)
  if (prop === f.prop) return s
  return { ...s, fields: { ...s.fields, [field]: { ...f, prop } } }
}

/** setOption sets (or, with undefined, removes) one of a field's x-options. */
export function setOption(s: DesignerState, field: FieldId, name: string, value: unknown): DesignerState {
  return updateField(s, field, (p) => {
    const o = { ...((p['x-options'] as Record<string, unknown>) ?? {}) }
    if (value === undefined || value === '' || value === null) delete o[name]
    else o[name] = value
    if (!Object.keys(o).length) return omit(p, 'x-options') as FieldSchema
    return { ...p, 'x-options': o }
  })
}

/** setKeyword sets (or, with undefined, removes) one of a field's own keys (x-label, x-public, maxLength, …). */
export function setKeyword(s: DesignerState, field: FieldId, name: string, value: unknown): DesignerState {
  return updateField(s, field, (p) => {
    if (value === undefined || value === '' || value === null || value === false) {
      if (!(name in p)) return p
      return omit(p, name) as FieldSchema
    }
    return { ...p, [name]: value }
  })
}

/** keyProblem says why a key cannot be a field's key ('' when it can). */
export function keyProblem(s: DesignerState, field: FieldId, key: string): '' | 'pattern' | 'reserved' | 'taken' {
  const f = s.fields[field]
  if (!fieldKeyPattern.test(key)) return 'pattern'
  if (reservedKeys.has(key)) return 'reserved'
  if (siblingsOf(s, f).some((o) => o.id !== field && o.key === key)) return 'taken'
  return ''
}

/**
 * renameField changes a field's key and the references to it the designer keeps: required
 * lists, the title field, role rules, scan maps and relation quantity fields of its siblings.
 * Expressions are not rewritten; the server names those that still use the old key.
 */
export function renameField(s: DesignerState, field: FieldId, key: string): DesignerState {
  const f = s.fields[field]
  if (!f || f.key === key || keyProblem(s, field, key)) return s
  const old = f.key
  const fields: Record<FieldId, FieldState> = { ...s.fields, [field]: { ...f, key } }
  // Sibling scan maps and relation quantity fields name fields by key.
  for (const sib of siblingsOf(s, f)) {
    const o = sib.prop['x-options'] as Record<string, unknown> | undefined
    if (!o) continue
    let no = o
    if (o.map && typeof o.map === 'object' && Object.values(o.map as Record<string, string>).includes(old)) {
      no = { ...no, map: Object.fromEntries(Object.entries(o.map as Record<string, string>).map(([ai, k]) => [ai, k === old ? key : k])) }
    }
    if (o.quantityField === old) no = { ...no, quantityField: key }
    if (no !== o) {
      const cur = fields[sib.id]
      fields[sib.id] = { ...cur, prop: { ...cur.prop, 'x-options': no } }
    }
  }
  if (f.parent) {
    const p = fields[f.parent]
    if (p.required?.includes(old)) fields[f.parent] = { ...p, required: renameIn(p.required, old, key) }
    return { ...s, fields }
  }
  let form = s.form
  if (form.titleField === old) form = { ...form, titleField: key }
  if (form.permissions) {
    const perms: Record<string, Permission> = {}
    for (const [role, p] of Object.entries(form.permissions)) {
      let q = p
      if (q.hidden?.includes(old)) q = { ...q, hidden: renameIn(q.hidden, old, key) }
      if (q.readOnly?.includes(old)) q = { ...q, readOnly: renameIn(q.readOnly, old, key) }
      perms[role] = q
    }
    form = { ...form, permissions: perms }
  }
  const out: DesignerState = { ...s, fields, form }
  return s.required?.includes(old) ? { ...out, required: renameIn(s.required, old, key) } : out
}

/** setRequired adds a field to its schema's required list or takes it out. */
export function setRequired(s: DesignerState, field: FieldId, on: boolean): DesignerState {
  const f = s.fields[field]
  if (!f || isRequired(s, f) === on) return s
  const change = (list: readonly string[] | undefined) => (on ? [...(list ?? []), f.key] : (list ?? []).filter((k) => k !== f.key))
  if (f.parent) {
    const p = s.fields[f.parent]
    return { ...s, fields: { ...s.fields, [p.id]: { ...p, required: change(p.required) } } }
  }
  return { ...s, required: change(s.required) }
}

/** updateNode replaces a layout item's props (span, label, columns). */
export function updateNode(s: DesignerState, node: NodeId, change: (props: ItemProps) => ItemProps): DesignerState {
  const n = s.nodes[node]
  if (!n) return s
  const props = change(n.props)
  if (props === n.props) return s
  return { ...s, nodes: { ...s.nodes, [node]: { ...n, props } } }
}

/** setNodeProp sets (or, with undefined, removes) one prop of a layout item. */
export function setNodeProp(s: DesignerState, node: NodeId, name: keyof ItemProps, value: unknown): DesignerState {
  return updateNode(s, node, (p) => {
    if (value === undefined || value === null || value === '') return name in p ? (omit(p, name) as ItemProps) : p
    return { ...p, [name]: value }
  })
}

/** addTab adds a tab to a tabs item. */
export function addTab(s: DesignerState, node: NodeId, label: Text): DesignerState {
  const n = s.nodes[node]
  if (n?.kind !== 'tabs') return s
  const tid = `t${s.seq}`
  const tabs = [...n.tabs, { id: tid, props: { label: { ...label } } }]
  return { ...s, seq: s.seq + 1, nodes: { ...s.nodes, [node]: { ...n, tabs } }, containers: { ...s.containers, [tid]: [] } }
}

/** setTabLabel changes one tab's label. */
export function setTabLabel(s: DesignerState, node: NodeId, tab: ContainerId, label: Text): DesignerState {
  const n = s.nodes[node]
  if (n?.kind !== 'tabs') return s
  const tabs = n.tabs.map((t) => (t.id === tab ? { ...t, props: { ...t.props, label } } : t))
  return { ...s, nodes: { ...s.nodes, [node]: { ...n, tabs } } }
}

/** removeTab removes a tab; its items move to the tab before it (or after it for the first). */
export function removeTab(s: DesignerState, node: NodeId, tab: ContainerId): DesignerState {
  const n = s.nodes[node]
  if (n?.kind !== 'tabs' || n.tabs.length <= 1) return s
  const i = n.tabs.findIndex((t) => t.id === tab)
  if (i < 0) return s
  const heir = n.tabs[i === 0 ? 1 : i - 1].id
  const containers = { ...s.containers, [heir]: [...s.containers[heir], ...s.containers[tab]] }
  delete containers[tab]
  const tabs = n.tabs.filter((t) => t.id !== tab)
  return syncOrder({ ...s, nodes: { ...s.nodes, [node]: { ...n, tabs } }, containers })
}

/** setForm replaces the form-level keys (name, group, title field, permissions, …). */
export function setForm(s: DesignerState, change: (form: DesignerState['form']) => DesignerState['form']): DesignerState {
  const form = change(s.form)
  return form === s.form ? s : { ...s, form }
}

/** setColumns sets the form's number of columns (1–4); 1 or less removes it. */
export function setColumns(s: DesignerState, n: number): DesignerState {
  const cur = s.layoutRest.columns
  if (n <= 1) {
    if (cur === undefined) return s
    return { ...s, layoutRest: omit(s.layoutRest, 'columns') }
  }
  const v = Math.min(4, Math.trunc(n))
  return cur === v ? s : { ...s, layoutRest: { ...s.layoutRest, columns: v } }
}

/** formColumns is the form's number of columns (1 when not set). */
export function formColumns(s: DesignerState): number {
  const c = s.layoutRest.columns
  return typeof c === 'number' && c >= 1 ? Math.min(4, c) : 1
}

/** FieldRule is a field-level rule for a role. */
export type FieldRule = 'hidden' | 'readOnly'

/**
 * setFieldRule turns a role's rule on a field on or off. A role that has no permission entry
 * yet gets one with no actions (the admin's matrix grants them); a rule list left empty goes.
 */
export function setFieldRule(s: DesignerState, role: string, key: string, rule: FieldRule, on: boolean): DesignerState {
  const perms = s.form.permissions ?? {}
  const p: Permission = perms[role] ?? { actions: [] }
  const list = p[rule] ?? []
  if (list.includes(key) === on) return s
  const next = on ? [...list, key] : list.filter((k) => k !== key)
  const q = next.length ? { ...p, [rule]: next } : (omit(p, rule) as Permission)
  return { ...s, form: { ...s.form, permissions: { ...perms, [role]: q } } }
}

/** addRole adds a role with no actions and no rules to the form's permissions. */
export function addRole(s: DesignerState, role: string): DesignerState {
  const perms = s.form.permissions ?? {}
  if (!role || perms[role]) return s
  return { ...s, form: { ...s.form, permissions: { ...perms, [role]: { actions: [] } } } }
}

/** fieldCount is the number of top-level fields. */
export function fieldCount(s: DesignerState): number {
  return s.order.length
}
