// What the designer's panes share: the undo history (in a shallowRef — the state is immutable,
// so Vue never walks it deeply), the selection, the server's problems, and the drop handler the
// canvas lists call. Provided by FormDesigner.vue, injected by the panes.
import { computed, inject, shallowRef, type ComputedRef, type InjectionKey, type ShallowRef } from 'vue'
import { canRedo, canUndo, commit, createHistory, redo, seal, undo, type History } from './history'
import type { DesignerState, FieldId, NodeId } from './model'
import { noProblems, type Problems } from './problems'

/** Selection is what the property panel shows: a field (or column), a layout item, or the form. */
export type Selection = { kind: 'field'; id: FieldId } | { kind: 'node'; id: NodeId } | { kind: 'form' }

/** DropSource is what was dragged: a palette item, a layout item, or a sub-table column. */
export type DropSource = { palette: string } | { node: NodeId } | { column: FieldId }

/** DropTarget is where it was dropped: a layout container, or a sub-table's columns. */
export type DropTarget = { container: string } | { subtable: FieldId }

export interface DesignerContext {
  history: ShallowRef<History<DesignerState>>
  state: ComputedRef<DesignerState>
  selection: ShallowRef<Selection>
  problems: ShallowRef<Problems>
  /** apply makes a change; changes with the same merge key in a row are one undo step. */
  apply: (change: (s: DesignerState) => DesignerState, mergeKey?: string) => void
  undo: () => void
  redo: () => void
  canUndo: ComputedRef<boolean>
  canRedo: ComputedRef<boolean>
  select: (s: Selection) => void
  drop: (source: DropSource, target: DropTarget, index: number) => void
  /** addFromPalette adds a palette item by click or keyboard, after the selection. */
  addFromPalette: (item: string) => void
  /** reset starts over at a state (a form loaded), with no undo steps. */
  reset: (s: DesignerState) => void
  /** remove removes the selection (a field, a column or a layout item). */
  remove: () => void
  /** check has the server check the definition (by saving the draft); false when it refused it or could not. */
  check: () => Promise<boolean>
  /** checked is the state the server last checked: problems are about it. */
  checked: ShallowRef<DesignerState | null>
}

export const designerKey: InjectionKey<DesignerContext> = Symbol('designer')

export function useDesignerContext(): DesignerContext {
  const ctx = inject(designerKey)
  if (!ctx) throw new Error('designer context missing')
  return ctx
}

/** createDesignerContext makes the shared state; the page supplies drop and addFromPalette. */
export function createDesignerContext(
  initial: DesignerState,
  handlers: { drop: DesignerContext['drop']; addFromPalette: DesignerContext['addFromPalette'] },
): DesignerContext {
  const history = shallowRef(createHistory(initial))
  const state = computed(() => history.value.present)
  const selection = shallowRef<Selection>({ kind: 'form' })
  const problems = shallowRef<Problems>(noProblems)
  const checked = shallowRef<DesignerState | null>(null)
  const fixSelection = () => {
    const s = history.value.present
    const sel = selection.value
    if ((sel.kind === 'field' && !s.fields[sel.id]) || (sel.kind === 'node' && !s.nodes[sel.id])) selection.value = { kind: 'form' }
  }
  return {
    history,
    state,
    selection,
    problems,
    apply(change, mergeKey) {
      history.value = commit(history.value, change(history.value.present), mergeKey)
      fixSelection()
    },
    undo() {
      history.value = undo(history.value)
      fixSelection()
    },
    redo() {
      history.value = redo(history.value)
      fixSelection()
    },
    canUndo: computed(() => canUndo(history.value)),
    canRedo: computed(() => canRedo(history.value)),
    select(s) {
      // A new selection ends typing into the last property: the next edit is its own step.
      history.value = seal(history.value)
      selection.value = s
    },
    drop: handlers.drop,
    addFromPalette: handlers.addFromPalette,
    reset(s) {
      history.value = createHistory(s)
      selection.value = { kind: 'form' }
      problems.value = noProblems
      checked.value = null
    },
    remove: () => {},
    check: async () => false,
    checked,
  }
}
