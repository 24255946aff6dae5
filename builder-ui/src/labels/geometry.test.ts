import { describe, expect, it } from 'vitest'
import { cssPxPerMm, distanceToSegment, fitZoom, hitTest, moveTo, nudge, resize, rulerTicks, scaleOf, snap, toLocal } from './geometry'

describe('scale', () => {
  it('is true millimetres at zoom 1 (96 px to 25.4 mm)', () => {
    expect(scaleOf(1) * 25.4).toBeCloseTo(96, 9)
    expect(scaleOf(2)).toBeCloseTo(2 * cssPxPerMm, 9)
  })
  it('fits a 60×40 label into a box, in quarter steps', () => {
    const z = fitZoom(60, 40, 800, 600)
    expect(60 * scaleOf(z)).toBeLessThanOrEqual(800)
    expect(40 * scaleOf(z)).toBeLessThanOrEqual(600)
    expect(60 * scaleOf(z + 0.25)).toBeGreaterThan(800)
    expect((z * 4) % 1).toBe(0)
  })
})

describe('snap', () => {
  it('puts values on a 1 mm and a 0.5 mm grid without float dust', () => {
    expect(snap(3.4, 1)).toBe(3)
    expect(snap(3.6, 1)).toBe(4)
    expect(snap(3.3, 0.5)).toBe(3.5)
    expect(snap(0.1 + 0.2, 0)).toBe(0.3)
  })
  it('moves a dragged box so its corner lands on the grid', () => {
    expect(moveTo({ x: 2, y: 2, w: 10, h: 5 }, 3.7, -0.8, 1)).toEqual({ x: 6, y: 1 })
    expect(moveTo({ x: 2, y: 2, w: 10, h: 5 }, 3.7, -0.8, 0.5)).toEqual({ x: 5.5, y: 1 })
  })
})

describe('hit tests', () => {
  const els = [
    { id: 'a', type: 'box', x: 0, y: 0, w: 20, h: 10 },
    { id: 'b', type: 'text', x: 5, y: 5, w: 10, h: 4 },
    { id: 'r', type: 'text', x: 40, y: 10, w: 20, h: 4, rotate: 90 },
    { id: 'l', type: 'line', x: 0, y: 30, w: 50, h: 0 },
  ]
  it('finds the topmost element under a point', () => {
    expect(hitTest(els, { x: 6, y: 6 })?.id).toBe('b')
    expect(hitTest(els, { x: 1, y: 1 })?.id).toBe('a')
    expect(hitTest(els, { x: 30, y: 20 })).toBeUndefined()
  })
  it('turns a rotated box: 90° clockwise about its top-left corner', () => {
    // The box 20 long, 4 high turned 90° runs down from (40,10) to the left: x 36–40, y 10–30.
    expect(toLocal(els[2], { x: 38, y: 25 })).toEqual({ x: 15, y: 2 })
    expect(hitTest(els, { x: 38, y: 25 })?.id).toBe('r')
    expect(hitTest(els, { x: 50, y: 12 })).toBeUndefined()
  })
  it('picks a line within a millimetre of it', () => {
    expect(hitTest(els, { x: 25, y: 30.8 })?.id).toBe('l')
    expect(hitTest(els, { x: 25, y: 31.5 })).toBeUndefined()
    expect(distanceToSegment({ x: 0, y: 0 }, { x: 3, y: 4 }, { x: 3, y: 4 })).toBe(5)
  })
})

describe('resize', () => {
  const box = { x: 10, y: 10, w: 20, h: 10 }
  it('moves the dragged edges and keeps the opposite ones', () => {
    expect(resize(box, 'se', 5.2, 2.9, { step: 1 })).toEqual({ x: 10, y: 10, w: 25, h: 13 })
    expect(resize(box, 'nw', 3.2, -2, { step: 1 })).toEqual({ x: 13, y: 8, w: 17, h: 12 })
    expect(resize(box, 'e', 0.6, 50, { step: 0.5 })).toEqual({ x: 10, y: 10, w: 20.5, h: 10 })
  })
  it('never makes a side smaller than 1 mm', () => {
    expect(resize(box, 'w', 40, 0, { step: 1 }).w).toBe(1)
    expect(resize(box, 'w', 40, 0, { step: 1 }).x).toBe(29)
    expect(resize(box, 's', 0, -40, { step: 1 }).h).toBe(1)
  })
  it('keeps QR codes square', () => {
    const r = resize({ x: 0, y: 0, w: 20, h: 20 }, 'se', 6, 1, { step: 1, square: true })
    expect(r.w).toBe(26)
    expect(r.h).toBe(26)
  })
  it('resizes a rotated box along its own sides', () => {
    // Turned 90°: its width runs down the page, so dragging the east handle down widens it.
    expect(resize({ x: 40, y: 10, w: 20, h: 4, rotate: 90 }, 'e', 0, 5, { step: 1 })).toEqual({ x: 40, y: 10, w: 25, h: 4, rotate: 90 })
    // Its north edge is on the page's right: dragging it right (outwards) 2 mm makes it 2 mm higher and
    // moves the corner along.
    expect(resize({ x: 40, y: 10, w: 20, h: 4, rotate: 90 }, 'n', 2, 0, { step: 1 })).toEqual({ x: 42, y: 10, w: 20, h: 6, rotate: 90 })
  })
  it('moves a line by its ends', () => {
    expect(resize({ x: 0, y: 5, w: 30, h: 0 }, 'se', 4.6, 0.2, { step: 1, line: true })).toEqual({ x: 0, y: 5, w: 35, h: 0 })
    expect(resize({ x: 0, y: 5, w: 30, h: 0 }, 'nw', 2, 0, { step: 1, line: true })).toEqual({ x: 2, y: 5, w: 28, h: 0 })
  })
})

describe('keys and rulers', () => {
  it('nudges 1 mm, 0.1 mm with Shift', () => {
    expect(nudge({ x: 1, y: 1 }, 'ArrowRight', false)).toEqual({ x: 2, y: 1 })
    expect(nudge({ x: 1, y: 1 }, 'ArrowUp', true)).toEqual({ x: 1, y: 0.9 })
    expect(nudge({ x: 1, y: 1 }, 'a', true)).toBeUndefined()
  })
  it('marks every millimetre when there is room, labels every 10', () => {
    const ticks = rulerTicks(60, scaleOf(3))
    expect(ticks).toHaveLength(61)
    expect(ticks.filter((t) => t.label).map((t) => t.label)).toEqual(['0', '10', '20', '30', '40', '50', '60'])
    expect(ticks[5].size).toBe('mid')
    expect(rulerTicks(210, scaleOf(0.5)).length).toBeLessThan(60)
  })
})
