import { describe, expect, it } from 'vitest'
import { canCommit, errorsAt, finished, followJob, InvalidTransition, next, percent, templateCSV, type ImportJob, type ImportReport, type ImportState } from './importFlow'

const file = { name: 'lots.csv', size: 120 }
const bad: ImportReport = {
  rows: 3, valid: 2, imported: 0, dryRun: true,
  errors: [{ row: 3, column: '数量', field: 'qty', code: 'too_small', message: '不能小于 0' }],
}
const good: ImportReport = { rows: 3, valid: 3, imported: 0, dryRun: true, errors: [] }
const job = (state: ImportJob['state'], validated: number, written: number, id = 'j1'): ImportJob => ({
  id, state, rows: 3, validated, written, errors: [], errorCount: 0,
})

describe('import state machine', () => {
  it('goes choose → checking → preview → committing → done', () => {
    let s: ImportState = { step: 'choose' }
    s = next(s, { type: 'choose', file })
    expect(s).toEqual({ step: 'checking', file })
    s = next(s, { type: 'checked', report: good })
    expect(s.step).toBe('preview')
    s = next(s, { type: 'commit' })
    expect(s).toEqual({ step: 'committing', file, report: good })
    expect(percent(s)).toBe(0)
    s = next(s, { type: 'progress', job: job('validating', 3, 0) })
    expect(percent(s)).toBe(50)
    s = next(s, { type: 'progress', job: job('writing', 3, 2) })
    expect(percent(s)).toBe(83)
    expect(finished((s as { job: ImportJob }).job)).toBe(false)
    // An older answer arriving late does not move the bar back.
    expect(next(s, { type: 'progress', job: job('validating', 2, 0) })).toBe(s)
    // Another job's progress is refused.
    expect(() => next(s, { type: 'progress', job: job('writing', 3, 3, 'j2') })).toThrow(InvalidTransition)
    expect(finished(job('done', 3, 3))).toBe(true)
    s = next(s, { type: 'finished', imported: 3 })
    expect(s).toEqual({ step: 'done', file, imported: 3 })
    expect(percent(s)).toBe(100)
  })
  it('refuses to commit a file with errors, and takes a fixed file', () => {
    let s: ImportState = next(next({ step: 'choose' }, { type: 'choose', file }), { type: 'checked', report: bad })
    expect(canCommit(bad)).toBe(false)
    expect(() => next(s, { type: 'commit' })).toThrow(InvalidTransition)
    s = next(s, { type: 'choose', file: { name: 'lots-fixed.csv', size: 121 } })
    expect(s).toMatchObject({ step: 'checking', file: { name: 'lots-fixed.csv' } })
  })
  it('fails from checking or committing, keeping the report', () => {
    const checking: ImportState = { step: 'checking', file }
    expect(next(checking, { type: 'failed', error: 'x' })).toEqual({ step: 'failed', file, report: undefined, error: 'x' })
    const committing = next(next(next(checking, { type: 'checked', report: good }), { type: 'commit' }), { type: 'failed', error: 'busy' })
    expect(committing).toMatchObject({ step: 'failed', report: good, error: 'busy' })
    expect(next(committing, { type: 'reset' })).toEqual({ step: 'choose' })
  })
  it('refuses events that do not fit the step', () => {
    const committing: ImportState = { step: 'committing', file, report: good }
    expect(() => next(committing, { type: 'choose', file })).toThrow('import: choose while committing')
    expect(() => next(committing, { type: 'reset' })).toThrow(InvalidTransition)
    expect(() => next({ step: 'choose' }, { type: 'checked', report: good })).toThrow(InvalidTransition)
    expect(() => next({ step: 'choose' }, { type: 'progress', job: job('queued', 0, 0) })).toThrow(InvalidTransition)
    expect(() => next({ step: 'done', file, imported: 1 }, { type: 'finished', imported: 1 })).toThrow(InvalidTransition)
    expect(canCommit({ ...good, rows: 0, valid: 0 })).toBe(false)
  })
})

describe('errorsAt', () => {
  it('places errors at their row and column', () => {
    const at = errorsAt([...bad.errors, { row: 3, column: '数量', code: 'x', message: 'second' }, { row: 1, column: '颜色', code: 'unknown_column', message: '未知列' }])
    expect(at.get(3)?.get('数量')?.map((e) => e.message)).toEqual(['不能小于 0', 'second'])
    expect(at.get(1)?.get('颜色')).toHaveLength(1)
    expect(at.get(2)).toBeUndefined()
  })
})

describe('templateCSV', () => {
  it('is a header row Excel reads as UTF-8', () => {
    expect(templateCSV(['物料', '数量 (kg)', 'a,b', 'say "hi"'])).toBe('\ufeff物料,数量 (kg),"a,b","say ""hi"""\r\n')
  })
})

describe('followJob', () => {
  const jobs = (...states: [ImportJob['state'], number, number][]) => states.map(([st, v, w]) => job(st, v, w))
  it('follows a job from 202 to done, asking after each wait', async () => {
    const answers = jobs(['validating', 2, 0], ['writing', 3, 1], ['done', 3, 3])
    const seen: string[] = []
    let waits = 0
    const end = await followJob(
      async () => job('queued', 0, 0),
      async (id) => ({ ...(answers.shift() as ImportJob), id, report: { ...good, dryRun: false, imported: 3 } }),
      async () => void waits++,
      (j) => seen.push(`${j.state}:${j.validated}/${j.written}`),
    )
    expect(end).toEqual({ ok: true, imported: 3 })
    expect(seen).toEqual(['queued:0/0', 'validating:2/0', 'writing:3/1', 'done:3/3'])
    expect(waits).toBe(3)
  })
  it('ends with the errors of a failed job', async () => {
    const errors = bad.errors
    const end = await followJob(
      async () => ({ ...job('failed', 3, 0), errors, errorCount: 1, error: { code: 'import_invalid', message: '有错误' } }),
      async () => { throw new Error('not asked') },
      async () => {},
      () => {},
    )
    expect(end).toMatchObject({ ok: false, job: { state: 'failed' }, report: { rows: 3, errors } })
  })
  it('takes a report answered at once, and stops when aborted', async () => {
    expect(await followJob(async () => ({ ...good, dryRun: false, imported: 3 }), async () => job('done', 3, 3), async () => {}, () => {})).toEqual({ ok: true, imported: 3 })
    const ctl = new AbortController()
    let asked = 0
    const end = await followJob(async () => job('queued', 0, 0), async () => (asked++, job('writing', 3, 1)), async () => ctl.abort(), () => {}, ctl.signal)
    expect(end).toBeUndefined()
    expect(asked).toBe(0)
  })
})
