import { describe, expect, it } from 'vitest'
import type { InboxItem } from '../api/types'
import { batchRows, failedTasks, keepSelected, selectable, toggle } from './batch'

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

  it('names the bad fields and the error id of a failure', () => {
    const rows = batchRows(['a'], [
      { task: 'a', ok: false, code: 'invalid', message: '输入有误', fields: [{ field: 'qty', code: 'required', message: '必填' }], id: 'e-42' },
    ], [item('a')], '?')
    expect(rows[0].message).toBe('输入有误 (qty: 必填) [e-42]')
  })
})
