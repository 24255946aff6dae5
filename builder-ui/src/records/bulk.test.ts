import { describe, expect, it } from 'vitest'
import type { RecordItem } from '../api/types'
import { runEach, skippedOutcomes, summarise, transitionChoices, type Outcome, type Transition } from './bulk'

const rec = (id: string, status?: string, rev = 1): RecordItem => ({
  id, app: 'a', form: 'f', version: 1, rev, status, data: {}, createdBy: 'u', createdAt: '', updatedBy: 'u', updatedAt: '',
})

describe('runEach', () => {
  it('acts on every record with its own revision and keeps each outcome in order', async () => {
    const seen: string[] = []
    const records = [rec('r1', 'a', 3), rec('r2', 'a', 5), rec('r3', 'a', 7)]
    const progress: number[] = []
    const out = await runEach(
      records,
      async (r) => {
        seen.push(`${r.id}@${r.rev}`)
        if (r.id === 'r2') throw new Error('conflict: changed by someone else')
      },
      (e) => ({ message: (e as Error).message }),
      (_, n) => progress.push(n),
      2,
    )
    expect(seen.sort()).toEqual(['r1@3', 'r2@5', 'r3@7'])
    expect(out).toEqual<Outcome[]>([
      { id: 'r1', state: 'done', record: undefined },
      { id: 'r2', state: 'failed', message: 'conflict: changed by someone else' },
      { id: 'r3', state: 'done', record: undefined },
    ])
    expect(progress).toEqual([1, 2, 3])
    expect(summarise(out)).toEqual({ done: 2, failed: 1, skipped: 0 })
  })
  it('never runs more than the parallel limit at once', async () => {
    let running = 0
    let most = 0
    await runEach(
      Array.from({ length: 9 }, (_, i) => rec(`r${i}`)),
      async () => {
        most = Math.max(most, ++running)
        await new Promise((r) => setTimeout(r, 1))
        running--
      },
      () => ({ message: '' }),
      undefined,
      3,
    )
    expect(most).toBe(3)
  })
})

describe('transitionChoices', () => {
  const release: Transition = { key: 'release', label: { 'zh-CN': '放行' }, from: ['pending'], to: 'released' }
  const freeze: Transition = { key: 'freeze', label: { 'zh-CN': '冻结' }, from: ['pending', 'released'], to: 'frozen' }
  const thaw: Transition = { key: 'thaw', label: { 'zh-CN': '解冻' }, from: ['frozen'], to: 'pending' }
  it('offers the transitions some chosen record can take, and says which records it skips', () => {
    const a = rec('a', 'pending')
    const b = rec('b', 'released')
    const got = transitionChoices([release, freeze, thaw], [a, b])
    expect(got.map((c) => [c.transition.key, c.applicable.map((r) => r.id), c.others.map((r) => r.id)])).toEqual([
      ['release', ['a'], ['b']],
      ['freeze', ['a', 'b'], []],
    ])
    expect(skippedOutcomes(got[0].others)).toEqual([{ id: 'b', state: 'skipped', reason: 'status' }])
    expect(summarise(skippedOutcomes(got[0].others))).toEqual({ done: 0, failed: 0, skipped: 1 })
  })
  it('offers nothing on a form without statuses', () => {
    expect(transitionChoices(undefined, [rec('a')])).toEqual([])
    expect(transitionChoices([release], [rec('a')])).toEqual([])
  })
})
