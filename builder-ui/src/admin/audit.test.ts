import { describe, expect, it } from 'vitest'
import { localToRFC3339, verifyState } from './audit'

describe('audit screen', () => {
  it('reads a verify report as OK, broken at an entry, or incomplete', () => {
    expect(verifyState({ entries: 3, ok: true, keyed: true })).toEqual({ kind: 'ok', colour: 'green' })
    expect(verifyState({ entries: 3, ok: false, keyed: true, firstBad: 2, reason: 'hash mismatch' })).toEqual({ kind: 'broken', colour: 'red' })
    expect(verifyState({ entries: 3, ok: false, keyed: true, unaudited: 4 })).toEqual({ kind: 'incomplete', colour: 'amber' })
  })
  it('sends picked local times as RFC 3339', () => {
    const got = localToRFC3339('2026-12-05 08:00:00')!
    expect(new Date(got).getTime()).toBe(new Date(2026, 11, 5, 8, 0, 0).getTime())
    expect(localToRFC3339('')).toBeUndefined()
    expect(localToRFC3339('nonsense')).toBeUndefined()
  })
})
