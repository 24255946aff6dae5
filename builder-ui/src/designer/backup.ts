// Unsaved designer changes kept in this browser (localStorage) until the draft is saved, so a
// closed tab or a lost connection loses nothing; the designer offers them back when the form
// opens again on the same draft revision.
import type { FormDoc } from './model'

/** Backup is a definition not yet saved: the draft revision it was based on and when. */
export interface Backup {
  rev: number
  at: number
  definition: FormDoc
}

const keyOf = (app: string, form: string) => `tc.designer.${app}/${form || '-new'}`

export function readBackup(app: string, form: string): Backup | null {
  try {
    const raw = globalThis.localStorage?.getItem(keyOf(app, form))
    if (!raw) return null
    const b = JSON.parse(raw) as Backup
    return b && typeof b.rev === 'number' && b.definition && typeof b.definition === 'object' ? b : null
  } catch {
    return null
  }
}

export function writeBackup(app: string, form: string, rev: number, definition: FormDoc) {
  try {
    globalThis.localStorage?.setItem(keyOf(app, form), JSON.stringify({ rev, at: Date.now(), definition }))
  } catch {
    // Storage full or refused: the unsaved-changes guard still asks before leaving.
  }
}

export function clearBackup(app: string, form: string) {
  try {
    globalThis.localStorage?.removeItem(keyOf(app, form))
  } catch {
    // nothing kept, nothing to clear
  }
}
