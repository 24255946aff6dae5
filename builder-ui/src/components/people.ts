// What the people picker shows: members of one or more apps, merged.
import type { Member } from '../api/types'

/** mergeMembers joins the members of several apps: each person once, by username, less exclude. */
export function mergeMembers(lists: readonly (readonly Member[])[], exclude: readonly string[] = []): Member[] {
  const seen = new Map<string, Member>()
  for (const list of lists) {
    for (const m of list) {
      if (!exclude.includes(m.username) && !seen.has(m.username)) seen.set(m.username, m)
    }
  }
  return [...seen.values()].sort((a, b) => a.username.localeCompare(b.username))
}

/** memberLabel is how a person reads in the picker: their name and, when it differs, their username. */
export function memberLabel(m: Member): string {
  return m.displayName && m.displayName !== m.username ? `${m.displayName}（${m.username}）` : m.username
}

/** usernames reads a multiple user field's value as a list: each username once, in order, no blanks. */
export function usernames(v: unknown): string[] {
  const list = Array.isArray(v) ? v : typeof v === 'string' && v ? [v] : []
  const out: string[] = []
  for (const x of list) {
    const name = typeof x === 'string' ? x.trim() : ''
    if (name && !out.includes(name)) out.push(name)
  }
  return out
}

/** remember adds the members of a search to known (username → member), so chosen people keep their names. */
export function remember(known: Map<string, Member>, found: readonly Member[]): void {
  for (const m of found) known.set(m.username, m)
}

/** chipLabel is how a chosen person's chip reads: by their name when a search has found them, else their username. */
export function chipLabel(username: string, known: ReadonlyMap<string, Member>): string {
  return memberLabel(known.get(username) ?? { username, displayName: '' })
}

/** unnamed are the chosen people no search has found yet (at most max), to look up by username. */
export function unnamed(chosen: readonly string[], known: ReadonlyMap<string, Member>, max = 10): string[] {
  return chosen.filter((u) => !known.has(u)).slice(0, max)
}
