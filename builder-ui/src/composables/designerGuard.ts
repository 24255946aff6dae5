// What both designers (forms and flows) do with the keyboard and when someone leaves: Ctrl+S
// saves, Ctrl+Z / Ctrl+Y (or Shift+Ctrl+Z) undo and redo outside text inputs, and unsaved
// changes keep the tab open (beforeunload) and ask before the route changes.
import { onBeforeUnmount, onMounted, type Ref } from 'vue'
import { onBeforeRouteLeave } from 'vue-router'
import { useI18n } from 'vue-i18n'
import { ElMessageBox } from 'element-plus'
import 'element-plus/es/components/message-box/style/css'

export interface DesignerGuard {
  dirty: Ref<boolean>
  save: () => unknown
  undo: () => void
  redo: () => void
}

/** useDesignerGuard wires the keys and the leave guard; it returns mayLeave for route updates. */
export function useDesignerGuard(g: DesignerGuard): () => Promise<boolean> {
  const { t } = useI18n()
  function onKeydown(e: KeyboardEvent) {
    if (!(e.ctrlKey || e.metaKey)) return
    const k = e.key.toLowerCase()
    const a = document.activeElement as HTMLElement | null
    const inText = !!a && (a.isContentEditable || a.tagName === 'TEXTAREA' || (a.tagName === 'INPUT' && !['checkbox', 'radio'].includes((a as HTMLInputElement).type)))
    if (k === 's') {
      e.preventDefault()
      g.save()
    } else if (!inText && k === 'z' && !e.shiftKey) {
      e.preventDefault()
      g.undo()
    } else if (!inText && (k === 'y' || (k === 'z' && e.shiftKey))) {
      e.preventDefault()
      g.redo()
    }
  }
  function onBeforeUnload(e: BeforeUnloadEvent) {
    if (!g.dirty.value) return
    e.preventDefault()
    e.returnValue = ''
  }
  onMounted(() => {
    document.addEventListener('keydown', onKeydown)
    window.addEventListener('beforeunload', onBeforeUnload)
  })
  onBeforeUnmount(() => {
    document.removeEventListener('keydown', onKeydown)
    window.removeEventListener('beforeunload', onBeforeUnload)
  })
  async function mayLeave(): Promise<boolean> {
    if (!g.dirty.value) return true
    try {
      await ElMessageBox.confirm(t('designer.leaveText'), t('designer.leaveTitle'), {
        confirmButtonText: t('designer.leave'), cancelButtonText: t('designer.stay'), type: 'warning',
      })
      return true
    } catch {
      return false
    }
  }
  onBeforeRouteLeave(mayLeave)
  return mayLeave
}
