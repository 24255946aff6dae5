import { describe, expect, it } from 'vitest'
import type { JSONSchema } from '../api/types'
import { choices, ean13Check, humanText, insertAt, placeholdersIn, sampleText, sampleValue, subTables, token, unknownPaths } from './placeholders'

const schema: JSONSchema = {
  properties: {
    lot_no: { 'x-type': 'autonumber', 'x-label': { 'zh-CN': '批次号' } },
    material: { 'x-type': 'text', 'x-label': { 'zh-CN': '物料' } },
    expiry: { 'x-type': 'date', 'x-label': { 'zh-CN': '到期日' } },
    files: { 'x-type': 'attachment' },
    checks: { 'x-type': 'subtable', 'x-label': { 'zh-CN': '检验项' }, items: { properties: { item: { 'x-type': 'text', 'x-label': { 'zh-CN': '项目' } } } } },
  },
}

describe('choices', () => {
  it('offers the printable fields, the code and the record', () => {
    const cs = choices(schema)
    const paths = cs.map((c) => c.path)
    expect(paths).toContain('material')
    expect(paths).toContain('code.url')
    expect(paths).toContain('record.id')
    expect(paths).not.toContain('files')
    expect(paths).not.toContain('checks')
    expect(paths).not.toContain('row.item')
  })
  it('offers a sub-table row’s fields on a per-row label', () => {
    expect(choices(schema, 'checks').find((c) => c.path === 'row.item')?.group).toBe('row')
  })
  it('formats dates when inserted', () => {
    expect(token(choices(schema).find((c) => c.path === 'expiry')!)).toBe('{{expiry|date:YYYY-MM-DD}}')
    expect(token(choices(schema).find((c) => c.path === 'material')!)).toBe('{{material}}')
  })
  it('lists sub-tables with their columns', () => {
    expect(subTables(schema).map((s) => [s.key, s.columns.map(([k]) => k)])).toEqual([['checks', ['item']]])
  })
})

describe('insert and parse', () => {
  it('inserts at the cursor, replacing a selection', () => {
    expect(insertAt('批号 ', 3, 3, '{{lot_no}}')).toEqual({ text: '批号 {{lot_no}}', cursor: 13 })
    expect(insertAt('a XX b', 2, 4, '{{q}}')).toEqual({ text: 'a {{q}} b', cursor: 7 })
    expect(insertAt('ab', null, null, '{{q}}')).toEqual({ text: 'ab{{q}}', cursor: 7 })
    expect(insertAt('ab', 9, 1, '{{q}}').text).toBe('ab{{q}}')
  })
  it('finds placeholders with their formats', () => {
    expect(placeholdersIn('到期 {{ expiry | date:YYMMDD }} 批 {{lot_no}}')).toEqual([
      { path: 'expiry', format: 'date:YYMMDD', start: 3, end: 29 },
      { path: 'lot_no', format: undefined, start: 32, end: 42 },
    ])
  })
  it('names placeholders the form does not have', () => {
    expect(unknownPaths('{{material}} {{materail}} {{code.url}} {{row.x}}', choices(schema))).toEqual(['materail'])
  })
})

describe('samples', () => {
  it('shows field placeholders by label and built-ins by sample values', () => {
    expect(sampleText('物料 {{material}} / {{code.serial}}', { label: (p) => (p === 'material' ? '物料' : p) })).toBe('物料 [物料] / K7Q2M9X4TB')
  })
  it('gives each GS1 AI content of its kind', () => {
    expect(sampleValue('gs1_128', '(01){{gtin}}(10){{lot_no}}(17){{expiry|date:YYMMDD}}')).toBe('(01)09501101530003(10)LOT2026A(17)270630')
    expect(sampleValue('gs1_128', '(01)09501101530003(10)ABC')).toBe('(01)09501101530003(10)ABC')
    expect(sampleValue('datamatrix', '{{code.url}}')).toMatch(/^\(01\)\d{14}\(10\)/)
  })
  it('keeps EAN-13 to twelve digits and QR to the code url', () => {
    expect(sampleValue('ean13', '{{gtin}}')).toBe('950110153000')
    expect(sampleValue('ean13', '6901234567892')).toBe('690123456789')
    expect(sampleValue('ean13', 'ABC')).toBe('ABC')
    expect(sampleValue('qr', '{{code.url}}')).toContain('/01/09501101530003/10/')
    expect(sampleValue('code128', 'L-{{lot_no}}')).toBe('L-LOT_NO')
  })
})

describe('human-readable line', () => {
  it('adds the EAN-13 check digit', () => {
    expect(ean13Check('690123456789')).toBe('2')
    expect(humanText('ean13', '950110153000')).toBe('9501101530003')
    expect(humanText('gs1_128', '(01)09501101530003(10)A')).toBe('(01)09501101530003(10)A')
  })
})
