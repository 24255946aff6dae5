import { describe, expect, it } from 'vitest'
import { portInput, problemsAt, withPrinter, withoutPrinter, type Printer } from './printers'

const a: Printer = { name: '包装线1', host: '192.168.10.31', language: 'zpl' }
const b: Printer = { name: '仓库TSC', host: 'tsc-wh.plant.lan', language: 'tspl', dpi: 300 }

describe('printer screen', () => {
  it('adds, replaces and removes one printer of the list', () => {
    const c: Printer = { name: 'new', host: '10.0.0.9', language: 'zpl', port: 9101 }
    expect(withPrinter([a, b], -1, c)).toEqual([a, b, c])
    expect(withPrinter([a, b], 1, c)).toEqual([a, c])
    expect(withoutPrinter([a, b], 0)).toEqual([b])
  })
  it("shows the server's field errors on the edited printer's fields, others in the summary", () => {
    const got = problemsAt({ fields: { 'printers.1.port': '不能大于 65535', 'printers.1.host': '必填', 'printers.0.name': '已存在', printers: '太多' }, summary: '' }, 1)
    expect(got.fields).toEqual({ port: '不能大于 65535', host: '必填' })
    expect(got.others).toEqual(['已存在', '太多'])
    expect(problemsAt({ fields: { 'printers.10.host': 'x' }, summary: '' }, 1).fields).toEqual({})
  })
  it('reads a typed port: blank is the default, digits a number for the server to check', () => {
    expect(portInput(' ')).toBe(0)
    expect(portInput('9100')).toBe(9100)
    expect(portInput('99999')).toBe(99999)
    expect(portInput('91a0')).toBeUndefined()
    expect(portInput('-1')).toBeUndefined()
  })
})
