import { describe, expect, it } from 'vitest'
import type { InboxItem } from '../api/types'
import { batchRows, byApp, failedTasks, keepSelected, selectable, toggle, unsigned } from './batch'

const item = (id: string, kind = 'approval', title = `T ${id}`): InboxItem => ({
  task: { id, node: 'n', kind, assignee: 'amy', state: 'pending', created: '2026-01-01T00:00:00Z' },
  instance: `i-${id}`, app: 'plant', flow: 'f', form: 'receipt', record: `r-${id}`, title,
  initiator: 'ivan', nodeName: {}, started: '2026-01-01T00:00:00Z', state: 'running',
})

describe('batch approval', () => {
  it('toggles a task in and out of the selection', () => {
    expect(toggle([], 'a')).toEqual(['a'])
    expect(toggle(['a', 'b'], 'a')).toEqual(['b'])
  })

  it('offers only approval tasks and forgets tasks that left the list', () => {
    const items = [item('a'), item('b', 'fill'), item('c')]
    expect(selectable(items)).toEqual(['a', 'c'])
    expect(keepSelected(['a', 'b', 'x', 'c'], items)).toEqual(['a', 'c'])
  })

  it('lines the results up with the picked tasks, failures with their reasons', () => {
    const items = [item('a'), item('b', 'approval', ''), item('c')]
    const rows = batchRows(['c', 'a', 'b'], [
      { task: 'a', ok: true },
      { task: 'b', ok: false, code: 'conflict', message: '任务已处理' },
    ], items, '没有结果')
    expect(rows).toEqual([
      { task: 'c', title: 'T c', ok: false, message: '没有结果' },
      { task: 'a', title: 'T a', ok: true, message: '' },
      { task: 'b', title: 'receipt', ok: false, message: '任务已处理' },
    ])
    expect(failedTasks(rows)).toEqual(['c', 'b'])
  })

  it('finds the picked tasks whose approval must be signed', () => {
    const items = [{ ...item('a'), signatureFor: ['approve'] }, item('b'), { ...item('c'), signatureFor: ['reject'] }, { ...item('d'), signatureFor: ['approve', 'reject'] }]
    expect(unsigned(['a', 'b', 'c', 'd'], items)).toEqual(['a', 'd'])
    expect(unsigned(['b', 'c'], items)).toEqual([])
  })

  it('groups a signed batch by app, one upload and one request each', () => {
    const items = [item('a'), { ...item('b'), app: 'farm' }, item('c')]
    expect([...byApp(['c', 'b', 'a'], items)]).toEqual([['plant', ['c', 'a']], ['farm', ['b']]])
  })

  it('says why a task needing a signature was skipped', () => {
    const rows = batchRows(['a'], [{ task: 'a', ok: false, code: 'signature_required', message: '该待办需要手写签名' }], [item('a')], '?')
    expect(rows[0]).toEqual({ task: 'a', title: 'T a', ok: false, message: '该待办需要手写签名' })
  })

  it('names the bad fields and the error id of a failure', () => {
    const rows = batchRows(['a'], [
      { task: 'a', ok: false, code: 'invalid', message: '输入有误', fields: [{ field: 'qty', code: 'required', message: '必填' }], id: 'e-42' },
    ], [item('a')], '?')
    expect(rows[0].message).toBe('输入有误 (qty: 必填) [e-42]')
  })
})
