// What the flow designer's views share (provided by FlowDesigner.vue, injected by the tree's
// cards): the state with its undo history, what is selected, the compile errors per node, and
// the names of roles and form fields for the cards' summaries.
import { computed, shallowRef, type ComputedRef, type InjectionKey, type Ref, type ShallowRef } from 'vue'
import { canRedo, canUndo, commit, createHistory, redo, seal, undo, type History } from '../designer/history'
import type { AddKind, FlowTree } from './model'
import type { Names } from './summary'

/** Selection is the node (or condition branch) whose settings the drawer shows. */
export type Selection = { id: string; branch?: number } | null

/** FormField is one field of the flow's form, for field permissions and the user-field assignee. */
export interface FormField {
  key: string
  label: string
  type: string
}

export interface FlowContext {
  state: ShallowRef<FlowTree>
  apply: (f: (s: FlowTree) => FlowTree, mergeKey?: string) => void
  reset: (s: FlowTree) => void
  undo: () => void
  redo: () => void
  canUndo: ComputedRef<boolean>
  canRedo: ComputedRef<boolean>
  selected: Ref<Selection>
  /** problems are the server's compile errors by node id ("<id>/b<i>" for a branch; "" for the flow). */
  problems: Ref<Record<string, string[]>>
  fields: Ref<FormField[]>
  roles: Ref<{ name: string; label: string }[]>
  names: ComputedRef<Names>
  add: (blockKey: string, index: number, kind: AddKind) => void
  /** check saves the draft quietly so the engine checks it (a condition being typed); nothing for a new flow. */
  check: () => void
}

export const flowKey: InjectionKey<FlowContext> = Symbol('flow-designer')

export function createFlowContext(initial: FlowTree, names: () => Names, add: FlowContext['add']): FlowContext {
  const history = shallowRef<History<FlowTree>>(createHistory(initial))
  const state = shallowRef(initial)
  const sync = () => (state.value = history.value.present)
  return {
    state,
    apply(f, mergeKey) {
      history.value = commit(history.value, f(history.value.present), mergeKey)
      sync()
    },
    reset(s) {
      history.value = createHistory(s)
      sync()
    },
    undo() {
      history.value = undo(seal(history.value))
      sync()
    },
    redo() {
      history.value = redo(history.value)
      sync()
    },
    canUndo: computed(() => canUndo(history.value)),
    canRedo: computed(() => canRedo(history.value)),
    selected: shallowRef<Selection>(null),
    problems: shallowRef({}),
    fields: shallowRef([]),
    roles: shallowRef([]),
    names: computed(names),
    add,
    check: () => {},
  }
}
