import { describe, expect, it } from 'vitest'
import { url } from '../api/client'
import { exportQuery, fileNameOf } from './exportQuery'

describe('exportQuery', () => {
  it('carries the list filters, sort and visible field columns', () => {
    const q = exportQuery(
      {
        filters: [{ field: 'material', op: 'contains', value: '面粉' }, { field: 'qty', op: 'gte', value: 10 }],
        sort: { field: 'qty', desc: true },
        columns: ['lot_no', 'material', 'status', 'createdAt', 'qty'],
      },
      'xlsx',
      'zh-CN',
    )
    expect(q).toEqual({
      format: 'xlsx',
      lang: 'zh-CN',
      filter: '[{"field":"material","op":"contains","value":"面粉"},{"field":"qty","op":"gte","value":10}]',
      sort: '-qty',
      fields: 'lot_no,material,qty',
    })
    // As sent: the JSON filter is one query parameter.
    const u = new URL(url('/x', q), 'http://h')
    expect(JSON.parse(u.searchParams.get('filter') ?? '')).toHaveLength(2)
  })
  it('leaves out what the list does not set', () => {
    expect(exportQuery({ filters: [], sort: { field: 'material', desc: false }, columns: ['status'] }, 'csv', 'en')).toEqual({ format: 'csv', lang: 'en', sort: 'material' })
    expect(exportQuery({ filters: [], sort: null, columns: [] }, 'csv', 'en')).toEqual({ format: 'csv', lang: 'en' })
  })
})

describe('fileNameOf', () => {
  it('prefers the RFC 5987 name', () => {
    const h = `attachment; filename="receipt-20261206.xlsx"; filename*=UTF-8''%E6%9D%A5%E6%96%99%E9%AA%8C%E6%94%B6-20261206.xlsx`
    expect(fileNameOf(h, 'x')).toBe('来料验收-20261206.xlsx')
  })
  it('falls back to the plain name, then to the fallback', () => {
    expect(fileNameOf('attachment; filename="receipt-1.csv"', 'x')).toBe('receipt-1.csv')
    expect(fileNameOf(`attachment; filename="a.csv"; filename*=UTF-8''%E6%9D`, 'x')).toBe('a.csv')
    expect(fileNameOf(null, 'receipt.xlsx')).toBe('receipt.xlsx')
  })
})
