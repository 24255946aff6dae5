import { describe, expect, it } from 'vitest'
import table from './testdata/scan-fill.json'
import { applyScan, gs1Elements, scanFill, scanMemory } from './scanfill'
import { emptyValues, fieldSpecs } from './widgets'

// The same cases forms/field_scan_web_test.go runs against the server's fill.
describe('scanFill, as the server fills (testdata/scan-fill.json)', () => {
  const now = new Date(table.now)
  it('reads the whole table', () => {
    expect(table.cases.length).toBeGreaterThanOrEqual(30)
  })
  for (const c of table.cases) {
    it(c.name, () => {
      expect(scanFill(c.in, c.map as Record<string, string>, table.targets, now, table.zone)).toEqual(c.fill)
    })
  }
})

describe('scanFill', () => {
  const now = new Date('2026-11-25T09:30:00+08:00')
  it('fills nothing without a map or a code', () => {
    expect(scanFill('(10)L1', undefined, {}, now)).toEqual({})
    expect(scanFill('  ', { '10': 'lot_no' }, {}, now)).toEqual({})
  })
  it('writes date-times in the zone given, Z in UTC', () => {
    expect(scanFill('(17)261231', { '17': 'e' }, { e: 'datetime' }, now, 'UTC')).toEqual({ e: '2026-12-31T00:00:00Z' })
    expect(scanFill('(17)260701', { '17': 'e' }, { e: 'datetime' }, now, 'Europe/Berlin')).toEqual({ e: '2026-07-01T00:00:00+02:00' })
    expect(scanFill('(17)260101', { '17': 'e' }, { e: 'datetime' }, now, 'America/New_York')).toEqual({ e: '2026-01-01T00:00:00-05:00' })
  })
  it('tells codes that are not GS1 from broken ones', () => {
    expect(gs1Elements('LOT-7', 2026)).toEqual([])
    expect(gs1Elements('(01)0950(1', 2026)).toBeNull()
    expect(gs1Elements(']E06901234567892', 2026)).toEqual([{ ai: '01', value: '06901234567892' }])
    expect(gs1Elements(']E06901234567890', 2026)).toBeNull()
  })
})

describe('applyScan: the record form fills at once', () => {
  const now = new Date('2026-11-25T09:30:00+08:00')
  const specs = fieldSpecs({
    properties: {
      code: { 'x-type': 'scan', 'x-options': { map: { '01': 'gtin', '10': 'supplier_lot', '17': 'expiry', '3103': 'weight' } } },
      gtin: { 'x-type': 'text', 'x-label': { 'zh-CN': '商品条码', en: 'GTIN' } },
      supplier_lot: { 'x-type': 'text' },
      expiry: { 'x-type': 'date' },
      weight: { 'x-type': 'number' },
      material: { 'x-type': 'text' },
    },
  })
  const keys = (r: { key: string }[]) => r.map((x) => x.key)
  const scan = (values: Record<string, unknown>, code: string, memory?: Record<string, unknown>) =>
    applyScan(specs, { ...values, code }, 'code', memory, now)

  it('fills the empty mapped fields and says which', () => {
    const r = scan(emptyValues(specs), '(01)09501101530003(17)261231(10)LOT-7')
    expect(r.values).toMatchObject({ gtin: '09501101530003', supplier_lot: 'LOT-7', expiry: '2026-12-31', material: '' })
    expect(r.values.weight).toBeUndefined()
    expect(keys(r.report.filled)).toEqual(['gtin', 'supplier_lot', 'expiry'])
    expect(r.report.filled[0].label).toEqual({ 'zh-CN': '商品条码', en: 'GTIN' })
    expect(r.report.kept).toEqual([])
  })

  it('keeps a field the operator typed into, and replaces what its own last scan put there', () => {
    const first = scan(emptyValues(specs), '(01)09501101530003(17)261231(10)LOT-7')
    const typed = { ...first.values, supplier_lot: 'LOT-7A' } // corrected by hand
    const again = scan(typed, '(01)09501101530003(17)270131(10)LOT-9', first.memory)
    expect(again.values).toMatchObject({ supplier_lot: 'LOT-7A', expiry: '2027-01-31', gtin: '09501101530003' })
    expect(keys(again.report.kept)).toEqual(['supplier_lot'])
    expect(keys(again.report.filled)).toEqual(['gtin', 'expiry'])
  })

  it('empties what its last scan filled when the new code does not name it, and fills nothing for other codes', () => {
    const first = scan(emptyValues(specs), '(01)09501101530003(17)261231(3103)001250')
    expect(first.values.weight).toBe(1.25)
    const second = scan(first.values, '(10)LOT-8', first.memory)
    expect(second.values).toMatchObject({ supplier_lot: 'LOT-8', gtin: '', expiry: '' })
    expect(second.values.weight).toBeUndefined()
    const cleared = scan(second.values, '', second.memory)
    expect(cleared.values.supplier_lot).toBe('')
    const broken = scan({ ...emptyValues(specs), gtin: 'typed' }, '(01)09501101530004')
    expect(broken.values.gtin).toBe('typed')
    expect(broken.report).toEqual({ filled: [], kept: [] })
  })

  it('on an edit, takes the fields the stored code fills as the scan\'s own', () => {
    const stored = { code: '(01)09501101530003(10)LOT-7', gtin: '09501101530003', supplier_lot: 'MY-LOT', expiry: '', weight: undefined, material: 'x' }
    const memory = scanMemory(specs, stored, now)
    expect(memory).toEqual({ code: { gtin: '09501101530003' } })
    const r = scan(stored, '(01)06901234567892(10)LOT-9', memory.code)
    expect(r.values).toMatchObject({ gtin: '06901234567892', supplier_lot: 'MY-LOT' })
  })
})
