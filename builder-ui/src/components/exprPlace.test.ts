import { describe, expect, it } from 'vitest'
import { caretLine, placeOffset, selectPlace } from './exprPlace'

describe('the place of an expression error', () => {
  it('puts a caret under the column', () => {
    expect(caretLine('a\nrecord.qty >', { line: 2, column: 12 })).toEqual({ text: 'record.qty >', pad: ' '.repeat(11) })
    expect(caretLine('数量\n😀x >', { line: 2, column: 3 })).toEqual({ text: '😀x >', pad: '  ' })
    expect(caretLine('x', { line: 3, column: 1 })).toBeNull()
    expect(caretLine('x', {})).toBeNull()
  })
  it('counts columns in characters, lines after the newlines', () => {
    expect(placeOffset('a\nrecord.qty >', { line: 2, column: 12 })).toBe(13)
    // 😀 is two UTF-16 units: column 2 of the line starts after both.
    expect(placeOffset('😀x', { line: 1, column: 2 })).toBe(2)
    expect(placeOffset('abc', { line: 1, column: 1 })).toBe(0)
  })
  it('selects the character at the place', () => {
    const ta = document.createElement('textarea')
    document.body.append(ta)
    ta.value = 'a\n😀 > 3'
    selectPlace(ta, ta.value, { line: 2, column: 3 })
    expect(document.activeElement).toBe(ta)
    expect([ta.selectionStart, ta.selectionEnd]).toEqual([5, 6])
    ta.setSelectionRange(0, 0)
    selectPlace(ta, ta.value, { column: 3 })
    expect(ta.selectionStart).toBe(0)
    ta.remove()
  })
})
