// Undo and redo for the designer: a command stack of immutable states. A change is a new state;
// the states before it are kept (they share what the change did not touch, so keeping them is
// cheap). Typing into one property makes one step, not one per key: changes with the same merge
// key in a row replace the step they follow.

/** History holds the states before and after the present one. */
export interface History<S> {
  readonly past: readonly S[]
  readonly present: S
  readonly future: readonly S[]
  /** mergeKey is the merge key of the last change; a change with the same key replaces it. */
  readonly mergeKey?: string
}

/** historyLimit is how many steps undo goes back. */
export const historyLimit = 200

/** createHistory starts a history at a state. */
export function createHistory<S>(present: S): History<S> {
  return { past: [], present, future: [] }
}

/**
 * commit makes next the present state. Nothing happens when next is the present state (a change
 * that changed nothing). With a merge key equal to the last change's, the last step is replaced
 * instead of a new one added.
 */
export function commit<S>(h: History<S>, next: S, mergeKey?: string): History<S> {
  if (next === h.present) return h
  if (mergeKey && mergeKey === h.mergeKey && h.past.length) {
    return { past: h.past, present: next, future: [], mergeKey }
  }
  const past = [...h.past, h.present]
  if (past.length > historyLimit) past.splice(0, past.length - historyLimit)
  return { past, present: next, future: [], mergeKey }
}

export function canUndo<S>(h: History<S>): boolean {
  return h.past.length > 0
}

export function canRedo<S>(h: History<S>): boolean {
  return h.future.length > 0
}

/** undo goes back one step. */
export function undo<S>(h: History<S>): History<S> {
  if (!h.past.length) return h
  return { past: h.past.slice(0, -1), present: h.past[h.past.length - 1], future: [h.present, ...h.future] }
}

/** redo goes forward one step. */
export function redo<S>(h: History<S>): History<S> {
  if (!h.future.length) return h
  return { past: [...h.past, h.present], present: h.future[0], future: h.future.slice(1) }
}

/** seal ends merging: the next change makes a step of its own even with the same key. */
export function seal<S>(h: History<S>): History<S> {
  return h.mergeKey === undefined ? h : { ...h, mergeKey: undefined }
}
