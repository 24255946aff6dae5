import { describe, expect, it } from 'vitest'
import { age, countText, createPoller, emptyList, recordLink, withAllRead, withPage, withRead, type Clock } from './state'
import type { Notification } from './api'

// fakeClock runs timers by hand: advance moves the time and fires what is due, in order.
function fakeClock() {
  let now = 0
  let visible = true
  let seq = 0
  const timers = new Map<number, { at: number; f: () => void }>()
  const clock: Clock = {
    now: () => now,
    setTimeout: (f, ms) => {
      timers.set(++seq, { at: now + ms, f })
      return seq
    },
    clearTimeout: (h) => timers.delete(h as number),
    visible: () => visible,
  }
  async function advance(ms: number) {
    const end = now + ms
    // A poller that keeps setting zero timers would never let time pass: fail, do not spin.
    for (let fired = 0; ; fired++) {
      if (fired > 1000) throw new Error('timers keep firing without time passing')
      const due = [...timers.entries()].filter(([, x]) => x.at <= end).sort((a, b) => a[1].at - b[1].at)[0]
      if (!due) break
      timers.delete(due[0])
      now = due[1].at
      due[1].f()
      await Promise.resolve()
      await Promise.resolve()
    }
    now = end
  }
  return { clock, advance, setVisible: (v: boolean) => (visible = v), pending: () => timers.size }
}

describe('createPoller', () => {
  it('ticks at start and every minute while visible', async () => {
    const c = fakeClock()
    let ticks = 0
    const p = createPoller(() => void ticks++, c.clock)
    p.start()
    await c.advance(0)
    expect(ticks).toBe(1)
    await c.advance(59_999)
    expect(ticks).toBe(1)
    await c.advance(1)
    expect(ticks).toBe(2)
    await c.advance(120_000)
    expect(ticks).toBe(4)
  })

  it('asks nothing while hidden and catches up on becoming visible', async () => {
    const c = fakeClock()
    let ticks = 0
    const p = createPoller(() => void ticks++, c.clock)
    p.start()
    await c.advance(10_000)
    c.setVisible(false)
    p.visibilityChanged()
    expect(c.pending()).toBe(0)
    await c.advance(600_000)
    expect(ticks).toBe(1)
    c.setVisible(true)
    p.visibilityChanged()
    await c.advance(0)
    expect(ticks).toBe(2)
    await c.advance(60_000)
    expect(ticks).toBe(3)
  })

  it('waits out the rest of the minute when shown again soon', async () => {
    const c = fakeClock()
    let ticks = 0
    const p = createPoller(() => void ticks++, c.clock)
    p.start()
    await c.advance(20_000)
    c.setVisible(false)
    p.visibilityChanged()
    await c.advance(10_000)
    c.setVisible(true)
    p.visibilityChanged()
    await c.advance(29_999)
    expect(ticks).toBe(1)
    await c.advance(1)
    expect(ticks).toBe(2)
  })

  it('stops, survives a failing tick and starts again at once', async () => {
    const c = fakeClock()
    let ticks = 0
    const p = createPoller(() => {
      ticks++
      throw new Error('offline')
    }, c.clock)
    p.start()
    await c.advance(60_000)
    expect(ticks).toBe(2)
    p.stop()
    await c.advance(600_000)
    expect(ticks).toBe(2)
    expect(c.pending()).toBe(0)
    p.visibilityChanged()
    expect(c.pending()).toBe(0)
    p.start()
    await c.advance(0)
    expect(ticks).toBe(3)
  })

  it('does not start a tick while one is running', async () => {
    const c = fakeClock()
    let ticks = 0
    let release = () => {}
    const p = createPoller(() => {
      ticks++
      return new Promise<void>((r) => (release = r))
    }, c.clock, 1000)
    p.start()
    await c.advance(0)
    c.setVisible(false)
    p.visibilityChanged()
    c.setVisible(true)
    p.visibilityChanged()
    await c.advance(5000)
    expect(ticks).toBe(1)
    release()
    await c.advance(1000)
    expect(ticks).toBe(2)
  })
})

const n = (id: string, at: string, read = false): Notification => ({ id, at, read, title: id })

describe('list state', () => {
  it('keeps pages newest first, each notification once', () => {
    let s = withPage(emptyList(), { items: [n('b', '2026-01-02T00:00:00Z'), n('a', '2026-01-01T00:00:00Z')], unread: 2, next: 'x' }, true)
    s = withPage(s, { items: [n('a', '2026-01-01T00:00:00Z'), n('z', '2025-12-31T00:00:00Z', true)], unread: 2 }, false)
    expect(s.items.map((x) => x.id)).toEqual(['b', 'a', 'z'])
    expect(s.next).toBe('')
    s = withPage(s, { items: [n('c', '2026-01-03T00:00:00Z')], unread: 3, next: 'y' }, true)
    expect(s.items.map((x) => x.id)).toEqual(['c'])
    expect(s).toMatchObject({ next: 'y', unread: 3 })
  })

  it('marks one read once and all read', () => {
    let s = withPage(emptyList(), { items: [n('b', '2026-01-02T00:00:00Z'), n('a', '2026-01-01T00:00:00Z')], unread: 5 }, true)
    s = withRead(s, ['a'])
    s = withRead(s, ['a', 'gone'])
    expect(s.unread).toBe(4)
    expect(s.items.find((x) => x.id === 'a')?.read).toBe(true)
    s = withAllRead(s, 0)
    expect(s.items.every((x) => x.read)).toBe(true)
    expect(s.unread).toBe(0)
  })

  it('counts for the badge', () => {
    expect([0, 1, 99, 100, 1000].map(countText)).toEqual(['', '1', '99', '99+', '99+'])
  })

  it('links to the record, the form or nothing', () => {
    expect(recordLink({ app: 'plant', form: 'lot', record: 'r/1' })).toEqual({ path: '/apps/plant/forms/lot', query: { open: 'r/1' } })
    expect(recordLink({ app: 'plant', form: 'lot' })).toEqual({ path: '/apps/plant/forms/lot' })
    expect(recordLink({ app: 'plant' })).toEqual({ path: '/apps/plant' })
    expect(recordLink({})).toBeNull()
  })

  it('says how long ago', () => {
    const now = Date.parse('2026-01-08T12:00:00Z')
    expect(age('2026-01-08T11:59:30Z', now)).toEqual({ unit: 'now' })
    expect(age('2026-01-08T11:15:00Z', now)).toEqual({ unit: 'm', n: 45 })
    expect(age('2026-01-08T09:00:00Z', now)).toEqual({ unit: 'h', n: 3 })
    expect(age('2026-01-06T12:00:00Z', now)).toEqual({ unit: 'd', n: 2 })
    expect(age('2026-01-01T11:00:00Z', now)).toBeNull()
    expect(age('bad', now)).toBeNull()
  })
})
