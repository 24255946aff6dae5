// The label canvas's geometry, in millimetres: the screen scale, snapping to the grid, hit
// tests of rotated boxes and lines, moving and resizing with the handles, nudging with the
// arrow keys, and the rulers' ticks. Pure functions: the canvas component only wires pointers.

/** cssPxPerMm is the true scale: CSS's 96 pixels to the inch, 25.4 mm to the inch. */
export const cssPxPerMm = 96 / 25.4

/** scaleOf is the screen pixels per millimetre at a zoom (1 = true size). */
export function scaleOf(zoom: number): number {
  return cssPxPerMm * zoom
}

export const minZoom = 0.5
export const maxZoom = 12

/** fitZoom is the zoom that shows a page of w × h mm whole in a box of boxW × boxH px. */
export function fitZoom(w: number, h: number, boxW: number, boxH: number): number {
  if (w <= 0 || h <= 0 || boxW <= 0 || boxH <= 0) return 1
  const z = Math.min(boxW / (w * cssPxPerMm), boxH / (h * cssPxPerMm))
  return clamp(Math.floor(z * 4) / 4, minZoom, maxZoom)
}

export function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v))
}

/** round2 rounds to 0.01 mm (what a definition keeps), without float dust (0.30000000000000004). */
export function round2(v: number): number {
  return Math.round(v * 100) / 100
}

/** snap puts v on the grid of step mm (no grid when step is 0). */
export function snap(v: number, step: number): number {
  if (!step) return round2(v)
  return round2(Math.round(v / step) * step)
}

/** gridStep is the snapping step: 1 mm, 0.5 mm while Shift is held. */
export function gridStep(fine: boolean): number {
  return fine ? 0.5 : 1
}

export interface Box {
  x: number
  y: number
  w: number
  h: number
  /** rotate is clockwise about the top-left corner, in degrees (0, 90, 180, 270). */
  rotate?: number
}

export interface Point {
  x: number
  y: number
}

function rad(deg = 0): number {
  return (deg * Math.PI) / 180
}

/** toLocal turns a page point into the box's own frame (its top-left corner at 0,0, unrotated). */
export function toLocal(b: Box, p: Point): Point {
  const a = rad(b.rotate)
  const dx = p.x - b.x
  const dy = p.y - b.y
  const c = Math.cos(a)
  const s = Math.sin(a)
  return { x: round6(c * dx + s * dy), y: round6(-s * dx + c * dy) }
}

/** toPage turns a vector of the box's frame into the page's (rotation only). */
export function toPageVector(rotate: number | undefined, v: Point): Point {
  const a = rad(rotate)
  const c = Math.cos(a)
  const s = Math.sin(a)
  return { x: round6(c * v.x - s * v.y), y: round6(s * v.x + c * v.y) }
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6
}

/** Hittable is what hitTest needs of an element. */
export interface Hittable extends Box {
  id: string
  type: string
}

/** lineTolerance is how near (mm) a pointer must come to a line to pick it. */
export const lineTolerance = 1

/** hits says whether p (page mm) is on the element: inside its (rotated) box, or near its line. */
export function hits(e: Hittable, p: Point, tolerance = lineTolerance): boolean {
  if (e.type === 'line') return distanceToSegment(p, { x: e.x, y: e.y }, { x: e.x + e.w, y: e.y + e.h }) <= tolerance
  const l = toLocal(e, p)
  return l.x >= 0 && l.y >= 0 && l.x <= e.w && l.y <= e.h
}

/** hitTest is the topmost element at p (the last drawn), or undefined. */
export function hitTest<T extends Hittable>(elements: readonly T[], p: Point, tolerance = lineTolerance): T | undefined {
  for (let i = elements.length - 1; i >= 0; i--) if (hits(elements[i], p, tolerance)) return elements[i]
  return undefined
}

export function distanceToSegment(p: Point, a: Point, b: Point): number {
  const dx = b.x - a.x
  const dy = b.y - a.y
  const len2 = dx * dx + dy * dy
  const t = len2 ? clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / len2, 0, 1) : 0
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy))
}

/** moveTo is the box dragged by (dx, dy) mm from where it started, its corner snapped to the grid. */
export function moveTo(start: Box, dx: number, dy: number, step: number): Point {
  return { x: snap(start.x + dx, step), y: snap(start.y + dy, step) }
}

/** Handle is a resize handle: which edges it moves. */
export type Handle = 'nw' | 'n' | 'ne' | 'e' | 'se' | 's' | 'sw' | 'w'
export const handles: Handle[] = ['nw', 'n', 'ne', 'e', 'se', 's', 'sw', 'w']

/** handlePoint is where a handle sits in the box's own frame. */
export function handlePoint(h: Handle, w: number, hh: number): Point {
  const x = h.includes('w') ? 0 : h.includes('e') ? w : w / 2
  const y = h.startsWith('n') ? 0 : h.startsWith('s') ? hh : hh / 2
  return { x, y }
}

/** minSize is the smallest side (mm) a resize leaves. */
export const minSize = 1

export interface ResizeOptions {
  step: number
  /** square keeps width and height equal (QR, DataMatrix). */
  square?: boolean
  /** line: a line's box may be 0 high or wide, and its sides may go negative. */
  line?: boolean
}

/**
 * resize is the box after dragging handle h by (dx, dy) page mm from start: the moved edges
 * follow the pointer in the box's own frame (so a rotated box resizes along its sides), the
 * sizes snapped to the grid, the opposite edges kept where they were.
 */
export function resize(start: Box, h: Handle, dx: number, dy: number, o: ResizeOptions): Box {
  if (o.line) {
    // A line's handles are its two ends: nw is (x, y), se is (x+w, y+h).
    if (h === 'nw') {
      const x = snap(start.x + dx, o.step)
      const y = snap(start.y + dy, o.step)
      return { ...start, x, y, w: round2(start.x + start.w - x), h: round2(start.y + start.h - y) }
    }
    return { ...start, w: snap(start.w + dx, o.step), h: snap(start.h + dy, o.step) }
  }
  const d = toLocal({ x: 0, y: 0, w: 0, h: 0, rotate: start.rotate }, { x: dx, y: dy })
  let left = 0
  let top = 0
  let right = start.w
  let bottom = start.h
  if (h.includes('w')) left = Math.min(start.w - minSize, snapDelta(d.x, start.w, o.step))
  if (h.includes('e')) right = Math.max(minSize, snap(start.w + d.x, o.step))
  if (h.startsWith('n')) top = Math.min(start.h - minSize, snapDelta(d.y, start.h, o.step))
  if (h.startsWith('s')) bottom = Math.max(minSize, snap(start.h + d.y, o.step))
  let w = right - left
  let hh = bottom - top
  if (o.square) {
    const side = Math.max(w, hh, minSize)
    // The edges the handle moves take the square's size; the others stay.
    if (h.includes('w')) left = right - side
    else right = left + side
    if (h.startsWith('n')) top = bottom - side
    else bottom = top + side
    w = hh = side
  }
  const shift = toPageVector(start.rotate, { x: left, y: top })
  return { ...start, x: round2(start.x + shift.x), y: round2(start.y + shift.y), w: round2(w), h: round2(hh) }
}

// snapDelta moves a left or top edge by d so that the size left (size - d) is on the grid.
function snapDelta(d: number, size: number, step: number): number {
  return round2(size - snap(size - d, step))
}

export type ArrowKey = 'ArrowLeft' | 'ArrowRight' | 'ArrowUp' | 'ArrowDown'

/** nudge is where an arrow key moves a box: 1 mm, 0.1 mm with Shift. */
export function nudge(b: Point, key: string, fine: boolean): Point | undefined {
  const by = fine ? 0.1 : 1
  switch (key) {
    case 'ArrowLeft':
      return { x: round2(b.x - by), y: b.y }
    case 'ArrowRight':
      return { x: round2(b.x + by), y: b.y }
    case 'ArrowUp':
      return { x: b.x, y: round2(b.y - by) }
    case 'ArrowDown':
      return { x: b.x, y: round2(b.y + by) }
  }
  return undefined
}

/** Tick is one mark of a ruler: at mm, long every 10 mm (labelled), middle every 5. */
export interface Tick {
  mm: number
  size: 'long' | 'mid' | 'short'
  label?: string
}

/**
 * rulerTicks are a ruler's marks over length mm. Millimetre marks only while they stay at
 * least 3 px apart; labels every 10 mm (every 50 when they would crowd).
 */
export function rulerTicks(length: number, scale: number): Tick[] {
  const out: Tick[] = []
  const every = scale >= 3 ? 1 : scale >= 0.6 ? 5 : 10
  const labelEvery = scale * 10 >= 24 ? 10 : 50
  for (let mm = 0; mm <= length + 1e-9; mm += every) {
    const size = mm % 10 === 0 ? 'long' : mm % 5 === 0 ? 'mid' : 'short'
    const t: Tick = { mm, size }
    if (mm % labelEvery === 0) t.label = String(mm)
    out.push(t)
  }
  return out
}

/** ptToMm turns a font size in points into millimetres (1 pt = 1/72 inch). */
export function ptToMm(pt: number): number {
  return (pt * 25.4) / 72
}
