// Drag and drop on vue-draggable-plus (SortableJS) without letting it own the lists: each list
// is a plain SortableJS instance (useDraggable with no list), and when a drag ends the DOM is put
// back as it was and the drop becomes one model change — Vue then renders the new state. So the
// model stays the only truth, every drop is one undo step, and nested lists (groups, tabs,
// sub-table columns) need no list-syncing. The fallback (pointer-driven) mode is forced: it
// behaves the same with a mouse, a finger and synthetic pointer events in browser tests.
import type { Ref } from 'vue'
import { useDraggable, type UseDraggableOptions } from 'vue-draggable-plus'
import type { DropSource, DropTarget } from './context'
import { canBeColumn } from './palette'

/** ListKind is what a list holds: the palette, layout items, or a sub-table's columns. */
export type ListKind = 'palette' | 'layout' | 'columns'

const groupName = 'tc-designer'

/** sourceOf reads what an element being dragged is, from its data attributes. */
export function sourceOf(el: HTMLElement): DropSource | undefined {
  const d = el.dataset
  if (d.palette) return { palette: d.palette }
  if (d.node) return { node: d.node }
  if (d.column) return { column: d.column }
  return undefined
}

/** targetOf reads what a list is, from its data attributes. */
export function targetOf(el: HTMLElement): DropTarget | undefined {
  const d = el.dataset
  if (d.container) return { container: d.container }
  if (d.subtable) return { subtable: d.subtable }
  return undefined
}

/** accepts tells whether a list of the kind takes the element being dragged. */
export function accepts(kind: ListKind, dragged: HTMLElement, sameList: boolean): boolean {
  const src = sourceOf(dragged)
  if (!src) return false
  if (kind === 'palette') return false
  if (kind === 'layout') return 'palette' in src || 'node' in src
  // A sub-table's columns take new columns from the palette and their own columns.
  if ('palette' in src) return canBeColumn(src.palette)
  return 'column' in src && sameList
}

/**
 * useDropList makes el a drag-and-drop list of the kind. onDrop gets what was dragged, where it
 * went and its index there (counted without it), after the DOM is put back.
 */
export function useDropList(
  el: Ref<HTMLElement | null>,
  kind: ListKind,
  onDrop: (source: DropSource, target: DropTarget, index: number) => void,
) {
  // Where the dragged element was: put back there when the drag ends.
  let origin: { parent: Node; next: Node | null } | null = null
  const options: UseDraggableOptions<unknown> = {
    animation: 150,
    forceFallback: true,
    fallbackOnBody: true,
    fallbackTolerance: 4,
    // A finger must rest a moment before it drags, so lists still scroll under it.
    delay: 180,
    delayOnTouchOnly: true,
    swapThreshold: 0.65,
    emptyInsertThreshold: 12,
    draggable: '.dz-item',
    filter: '.dz-nodrag',
    preventOnFilter: false,
    ghostClass: 'dz-ghost',
    chosenClass: 'dz-chosen',
    dragClass: 'dz-drag',
    sort: kind !== 'palette',
    group: {
      name: groupName,
      pull: kind === 'palette' ? 'clone' : kind === 'layout',
      put: (to, from, dragged) => accepts(kind, dragged, to === from),
    },
    onStart(e) {
      origin = e.item.parentNode ? { parent: e.item.parentNode, next: e.item.nextSibling } : null
    },
    onEnd(e) {
      const { item, clone, from, to } = e
      if (clone && clone !== item && clone.parentNode) clone.parentNode.removeChild(clone)
      if (origin && (item.parentNode !== origin.parent || item.nextSibling !== origin.next)) {
        origin.parent.insertBefore(item, origin.next)
      }
      origin = null
      const index = e.newDraggableIndex ?? e.newIndex ?? -1
      if (index < 0 || (from === to && (e.oldDraggableIndex ?? e.oldIndex) === index)) return
      const source = sourceOf(item)
      const target = targetOf(to)
      if (source && target) onDrop(source, target, index)
    },
  }
  // Started when the component mounts, destroyed when it unmounts.
  return useDraggable(el, options)
}
