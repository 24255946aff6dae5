import { describe, expect, it } from 'vitest'
import { chipLabel, memberLabel, mergeMembers, remember, unnamed, usernames } from './people'

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

describe('picking several people', () => {
  const amy = { username: 'amy', displayName: '艾米' }
  const ben = { username: 'ben', displayName: 'Ben' }
  const cai = { username: 'cai', displayName: '蔡' }

  it('reads the field as a list of usernames, each once', () => {
    expect(usernames(['amy', ' ben ', 'amy', '', 3, null])).toEqual(['amy', 'ben'])
    expect(usernames('amy')).toEqual(['amy'])
    expect(usernames(null)).toEqual([])
    expect(usernames(undefined)).toEqual([])
  })

  it('names chosen people by what searches found, else by username', () => {
    const known = new Map<string, typeof amy>()
    remember(known, [amy, ben])
    remember(known, [cai])
    expect(['amy', 'cai', 'dan'].map((u) => chipLabel(u, known))).toEqual(['艾米（amy）', '蔡（cai）', 'dan'])
    expect(unnamed(['amy', 'dan', 'eve'], known)).toEqual(['dan', 'eve'])
    expect(unnamed(['x1', 'x2', 'x3'], new Map(), 2)).toEqual(['x1', 'x2'])
  })
})
