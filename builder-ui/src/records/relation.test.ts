import { describe, expect, it } from 'vitest'
import type { Definition, ListQuery, ListResult } from '../api/types'
import { searchQuery, titleKeyOf, titleText, TitleResolver } from './relation'

const def = (props: Record<string, string>, titleField?: string): Definition => ({
  key: 'supplier', name: { 'zh-CN': '供应商' }, titleField,
  schema: { type: 'object', properties: Object.fromEntries(Object.entries(props).map(([k, t]) => [k, { 'x-type': t }])) },
})

describe('titleKeyOf', () => {
  const d = def({ score: 'number', code: 'autonumber', name: 'text' }, 'name')
  it('takes the relation displayField, else the target titleField, else its first text field', () => {
    expect(titleKeyOf(d, 'code')).toBe('code')
    expect(titleKeyOf(d)).toBe('name')
    expect(titleKeyOf(d, 'gone')).toBe('name')
    expect(titleKeyOf(def({ score: 'number', code: 'autonumber' }))).toBe('code')
    expect(titleKeyOf(def({ score: 'number' }))).toBe('')
  })
})

describe('searchQuery', () => {
  it('finds by part of a text title, by exact id otherwise', () => {
    const d = def({ name: 'text', score: 'number' })
    expect(searchQuery(d, 'name', ' 面粉 ')).toEqual({ filters: [{ field: 'name', op: 'contains', value: '面粉' }], limit: 20, fields: ['name'] })
    expect(searchQuery(d, 'name', '')).toEqual({ limit: 20, fields: ['name'] })
    expect(searchQuery(d, 'score', '01J')).toEqual({ filters: [{ field: 'id', op: 'eq', value: '01J' }], limit: 20, fields: ['score'] })
    expect(searchQuery(d, '', '01J')).toEqual({ filters: [{ field: 'id', op: 'eq', value: '01J' }], limit: 20, fields: [] })
  })
})

describe('TitleResolver', () => {
  it('asks once for the ids it does not know, remembers titles and ids not found', async () => {
    const calls: ListQuery[] = []
    const store: Record<string, string> = { s1: '中粮面业', s2: '金龙鱼' }
    const list = async (q: ListQuery): Promise<ListResult> => {
      calls.push(q)
      const ids = (q.filters?.[0].value as string[]) ?? []
      const items = ids.filter((id) => store[id]).map((id) => ({ id, data: { name: store[id] } }))
      return { items, total: items.length } as unknown as ListResult
    }
    const r = new TitleResolver(list, 'name')
    r.remember([{ id: 's3', data: { name: '益海嘉里' } }])
    const got = await r.resolve(['s1', 's2', 's3', 'gone', 's1'])
    expect(Object.fromEntries(got)).toEqual({ s1: '中粮面业', s2: '金龙鱼', s3: '益海嘉里', gone: null })
    expect(calls).toEqual([{ filters: [{ field: 'id', op: 'in', value: ['s1', 's2', 'gone'] }], limit: 3, fields: ['name'] }])
    await r.resolve(['s2', 'gone'])
    expect(calls).toHaveLength(1)
    expect(r.title('s2')).toBe('金龙鱼')
    expect(r.title('gone')).toBeNull()
    expect(r.title('never')).toBeUndefined()
  })
  it('splits more than 500 ids into several calls, and shares a call under way', async () => {
    let calls = 0
    const list = async (q: ListQuery): Promise<ListResult> => {
      calls++
      const ids = q.filters?.[0].value as string[]
      return { items: ids.map((id) => ({ id, data: {} })), total: ids.length } as unknown as ListResult
    }
    const r = new TitleResolver(list, 'name')
    const ids = Array.from({ length: 1001 }, (_, i) => `r${i}`)
    const [a, b] = await Promise.all([r.resolve(ids), r.resolve(['r0'])])
    expect(calls).toBe(3)
    expect(a.get('r1000')).toBe('r1000') // no title: the id
    expect(b.get('r0')).toBe('r0')
  })
  it('shows the id when the title is empty', () => {
    expect(titleText({ id: 'r9', data: { name: ' ' } }, 'name')).toBe('r9')
    expect(titleText({ id: 'r9', data: { name: 42 } }, 'name')).toBe('42')
  })
})
