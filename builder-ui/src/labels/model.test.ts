import { describe, expect, it } from 'vitest'
import { addElement, changeType, fromDefinition, newElement, newTemplate, presetOf, problemPlaces, removeElement, stable, toDefinition, updateElement } from './model'

describe('template model', () => {
  const t0 = newTemplate('lot_label', { 'zh-CN': '批次标签' }, 'receipt')
  it('starts as a 60×40 mm label', () => {
    expect(presetOf(t0.page)).toBe('60x40')
    expect(t0.elements).toEqual([])
  })
  it('adds palette kinds as the elements the server draws', () => {
    const f = newElement(t0, 'field', { field: 'material' })
    expect(f).toMatchObject({ id: 'text_1', type: 'text', text: '{{material}}' })
    const t1 = addElement(t0, f)
    expect(newElement(t1, 'text').id).toBe('text_2')
    const qr = newElement(t1, 'qr')
    expect(qr.value).toBe('{{code.url}}')
    expect(qr.w).toBe(qr.h)
    expect(newElement(t1, 'barcode').type).toBe('code128')
  })
  it('changes symbology, keeping 2D codes square and dropping human-readable', () => {
    let t = addElement(t0, newElement(t0, 'barcode'))
    t = changeType(t, 'code128_1', 'datamatrix')
    const e = t.elements[0]
    expect(e.type).toBe('datamatrix')
    expect(e.w).toBe(e.h)
    expect(e.humanReadable).toBeUndefined()
    t = changeType(t, 'code128_1', 'gs1_128')
    expect(t.elements[0].w).toBeGreaterThan(t.elements[0].h)
  })
  it('updates immutably and removes undefined properties', () => {
    const t1 = addElement(t0, newElement(t0, 'text'))
    const t2 = updateElement(t1, 'text_1', { x: 5, font: undefined })
    expect(t1.elements[0].x).not.toBe(5)
    expect(t2.elements[0].x).toBe(5)
    expect('font' in t2.elements[0]).toBe(false)
    expect(removeElement(t2, 'text_1').elements).toEqual([])
  })
  it('sends rounded millimetres and leaves the defaults out', () => {
    const t = updateElement(addElement(t0, newElement(t0, 'text')), 'text_1', { x: 0.1 + 0.2 })
    const d = toDefinition(t)
    expect(d.elements[0].x).toBe(0.3)
    expect('repeat' in d).toBe(false)
    expect(stable(fromDefinition(d))).toBe(stable(fromDefinition(toDefinition(fromDefinition(d)))))
  })
  it('puts the server’s field errors on the elements they name', () => {
    const t = addElement(addElement(t0, newElement(t0, 'text')), newElement(t0, 'qr'))
    const p = problemPlaces(t, [
      { field: 'elements/1/value', message: 'bad placeholder' },
      { field: '/elements/0/text', message: 'unknown field' },
      { field: 'page.width', message: 'too wide' },
      { field: 'elements/9/value', message: 'gone' },
    ])
    expect(p.elements).toEqual({ qr_1: [{ prop: 'value', message: 'bad placeholder' }], text_1: [{ prop: 'text', message: 'unknown field' }] })
    expect(p.general.map((g) => g.path)).toEqual(['page.width', 'elements/9/value'])
  })
})
