// Batch approval in 待我处理: which cards are picked, and what each one's outcome was.
import { issueText } from '../api/client'
import type { BatchResult, InboxItem } from '../api/types'

/** BatchRow is one picked task's line in the results: its card's title and its outcome. */
export interface BatchRow {
  task: string
  title: string
  ok: boolean
  /** message is the server's reason for a task it could not approve (with an error id on a 500). */
  message: string
}

/** toggle gives the selection with id added, or removed when it was there. */
export function toggle(selected: readonly string[], id: string): string[] {
  return selected.includes(id) ? selected.filter((x) => x !== id) : [...selected, id]
}

/** selectable are the tasks of a todo list that a batch approval may take: approval tasks. */
export function selectable(items: readonly InboxItem[]): string[] {
  return items.filter((it) => it.task.id && it.task.kind === 'approval').map((it) => it.task.id)
}

/**
 * unsigned are the picked tasks whose approval needs a handwritten signature (signatureFor holds
 * approve): without a batch signature (使用同一签名批量审批) the server skips them.
 */
export function unsigned(selected: readonly string[], items: readonly InboxItem[]): string[] {
  const need = new Set(items.filter((it) => it.signatureFor?.includes('approve')).map((it) => it.task.id))
  return selected.filter((id) => need.has(id))
}

/** byApp groups the picked tasks by their app, in the order picked: a batch signature is a file of one app, so each app gets its own upload and batch. */
export function byApp(selected: readonly string[], items: readonly InboxItem[]): Map<string, string[]> {
  const app = new Map(items.map((it) => [it.task.id, it.app]))
  const out = new Map<string, string[]>()
  for (const id of selected) {
    const a = app.get(id) ?? ''
    out.set(a, [...(out.get(a) ?? []), id])
  }
  return out
}

/** keepSelected drops picked tasks that are no longer in the list (after a reload). */
export function keepSelected(selected: readonly string[], items: readonly InboxItem[]): string[] {
  const ids = new Set(selectable(items))
  return selected.filter((id) => ids.has(id))
}

/**
 * batchRows lines up the server's results with the picked tasks, in the order they were picked.
 * A picked task the server did not answer for counts as failed (fallback is its message).
 */
export function batchRows(picked: readonly string[], results: readonly BatchResult[], items: readonly InboxItem[], fallback: string): BatchRow[] {
  const byTask = new Map(results.map((r) => [r.task, r]))
  const titles = new Map(items.map((it) => [it.task.id, it.title || it.form]))
  return picked.map((task) => {
    const r = byTask.get(task)
    let message = ''
    if (!r) message = fallback
    else if (!r.ok) {
      message = r.message || r.code || fallback
      const fields = (r.fields ?? []).map(issueText).join('; ')
      if (fields && !message.includes(fields)) message += ` (${fields})`
      if (r.id && !message.includes(r.id)) message += ` [${r.id}]`
    }
    return { task, title: titles.get(task) ?? task, ok: !!r?.ok, message }
  })
}

/** failedTasks are the rows that were not approved: they stay picked, to try again. */
export function failedTasks(rows: readonly BatchRow[]): string[] {
  return rows.filter((r) => !r.ok).map((r) => r.task)
}
