import { describe, expect, it } from 'vitest'
import { accepts, sourceOf, targetOf } from './dragdrop'
import { clearBackup, readBackup, writeBackup } from './backup'

function el(data: Record<string, string>): HTMLElement {
  const e = document.createElement('div')
  for (const [k, v] of Object.entries(data)) e.dataset[k] = v
  return e
}

describe('drop lists', () => {
  it('read what is dragged and where it goes from data attributes', () => {
    expect(sourceOf(el({ palette: 'text' }))).toEqual({ palette: 'text' })
    expect(sourceOf(el({ node: 'n3' }))).toEqual({ node: 'n3' })
    expect(sourceOf(el({ column: 'f7' }))).toEqual({ column: 'f7' })
    expect(sourceOf(el({}))).toBeUndefined()
    expect(targetOf(el({ container: 'root' }))).toEqual({ container: 'root' })
    expect(targetOf(el({ subtable: 'f2' }))).toEqual({ subtable: 'f2' })
  })

  it('take only what fits: layouts take palette items and layout items, columns take column types and their own columns', () => {
    expect(accepts('layout', el({ palette: 'subtable' }), false)).toBe(true)
    expect(accepts('layout', el({ palette: 'layout:tabs' }), false)).toBe(true)
    expect(accepts('layout', el({ node: 'n1' }), false)).toBe(true)
    expect(accepts('layout', el({ column: 'f1' }), false)).toBe(false)
    expect(accepts('columns', el({ palette: 'number' }), false)).toBe(true)
    expect(accepts('columns', el({ palette: 'subtable' }), false)).toBe(false)
    expect(accepts('columns', el({ palette: 'layout:group' }), false)).toBe(false)
    expect(accepts('columns', el({ node: 'n1' }), false)).toBe(false)
    expect(accepts('columns', el({ column: 'f1' }), true)).toBe(true)
    expect(accepts('columns', el({ column: 'f1' }), false)).toBe(false)
    expect(accepts('palette', el({ palette: 'text' }), true)).toBe(false)
  })
})

describe('backup', () => {
  it('keeps an unsaved definition per app and form until cleared', () => {
    const def = { key: 'r', name: { 'zh-CN': 'r' }, schema: { type: 'object', properties: {} } }
    writeBackup('plant', 'r', 3, def)
    expect(readBackup('plant', 'r')).toMatchObject({ rev: 3, definition: def })
    expect(readBackup('plant', 'other')).toBeNull()
    clearBackup('plant', 'r')
    expect(readBackup('plant', 'r')).toBeNull()
  })
})
