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
