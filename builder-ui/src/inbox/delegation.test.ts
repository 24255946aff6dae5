import { describe, expect, it } from 'vitest'
import { checkForm, delegationState, formOf, toDelegation } from './delegation'

const now = new Date('2026-03-10T08:00:00Z')

describe('delegation', () => {
  it('tells whether a delegation is ahead, running or over', () => {
    const d = { to: 'ben', from: '2026-03-09T00:00:00Z', until: '2026-03-11T00:00:00Z' }
    expect(delegationState(null, now)).toBe('none')
    expect(delegationState({ ...d, to: '' }, now)).toBe('none')
    expect(delegationState(d, now)).toBe('active')
    expect(delegationState({ ...d, from: '2026-03-10T09:00:00Z' }, now)).toBe('scheduled')
    expect(delegationState({ ...d, until: '2026-03-10T08:00:00Z' }, now)).toBe('ended')
  })

  it('starts a new delegation now for a week, and keeps an existing one', () => {
    const f = formOf(null, now)
    expect(f.to).toBe('')
    expect(f.from?.toISOString()).toBe('2026-03-10T08:00:00.000Z')
    expect(f.until?.toISOString()).toBe('2026-03-17T08:00:00.000Z')
    const g = formOf({ to: 'ben', from: '2026-03-09T00:00:00Z', until: '2026-03-11T00:00:00Z' }, now)
    expect(g.to).toBe('ben')
    expect(g.until?.toISOString()).toBe('2026-03-11T00:00:00.000Z')
  })

  it('asks for a delegate and an end after the start', () => {
    expect(checkForm({ to: ' ', from: now, until: null })).toEqual({ to: 'toRequired', until: 'untilRequired' })
    expect(checkForm({ to: 'ben', from: now, until: now })).toEqual({ until: 'untilAfterFrom' })
    expect(checkForm({ to: 'ben', from: null, until: now })).toEqual({})
  })

  it('sends ISO times and a trimmed username', () => {
    expect(toDelegation({ to: ' ben ', from: now, until: new Date('2026-03-12T00:00:00Z') }))
      .toEqual({ to: 'ben', from: '2026-03-10T08:00:00.000Z', until: '2026-03-12T00:00:00.000Z' })
  })
})
