// Where an expression's compile error is, as the server names it (line and column, 1-based, in
// characters): the line with a caret under the column for people to read, and the selection that
// puts the cursor there. Shared by the rule editor's expressions and the form designer's formulas.

/** Place is the line and column of a complaint (unset when the server gave none). */
export interface Place {
  line?: number
  column?: number
}

/** caretLine is the line of source a problem names and the padding that puts a caret under its column. */
export function caretLine(source: string, p: Place): { text: string; pad: string } | null {
  if (!p.line || !p.column) return null
  const line = source.split('\n')[p.line - 1]
  if (line === undefined) return null
  return { text: line, pad: ' '.repeat(Math.max(0, Array.from(line).slice(0, p.column - 1).length)) }
}

/** placeOffset is the string index of the place in source (columns count characters, not UTF-16 units). */
export function placeOffset(source: string, p: Place): number {
  const lines = source.split('\n')
  let offset = 0
  for (let i = 0; i < (p.line ?? 1) - 1 && i < lines.length; i++) offset += lines[i].length + 1
  return offset + Array.from(lines[(p.line ?? 1) - 1] ?? '').slice(0, (p.column ?? 1) - 1).join('').length
}

/** selectPlace focuses el with the character at the place selected (nothing without a line). */
export function selectPlace(el: HTMLInputElement | HTMLTextAreaElement | undefined, source: string, p: Place | undefined) {
  if (!p?.line || !el) return
  const offset = placeOffset(source, p)
  el.focus()
  el.setSelectionRange(offset, Math.min(source.length, offset + 1))
}
