import { describe, expect, it } from 'vitest'
import { memberLabel, mergeMembers } from './people'

describe('people picker', () => {
  it('lists each member once across apps, without the excluded, by username', () => {
    const a = [{ username: 'ben', displayName: 'Ben' }, { username: 'amy', displayName: '艾米' }]
    const b = [{ username: 'amy', displayName: '艾米' }, { username: 'cai', displayName: '' }]
    expect(mergeMembers([a, b], ['ben']).map((m) => m.username)).toEqual(['amy', 'cai'])
  })

  it('shows the name with the username, or the username alone', () => {
    expect(memberLabel({ username: 'amy', displayName: '艾米' })).toBe('艾米（amy）')
    expect(memberLabel({ username: 'cai', displayName: '' })).toBe('cai')
    expect(memberLabel({ username: 'dan', displayName: 'dan' })).toBe('dan')
  })
})
