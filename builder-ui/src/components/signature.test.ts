import { describe, expect, it } from 'vitest'
import { canvasSize, signatureFile } from './signature'

describe('signature', () => {
  it('turns a PNG data URL into a PNG file with the same bytes', async () => {
    const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]
    const url = 'data:image/png;base64,' + btoa(String.fromCharCode(...png))
    const f = signatureFile(url)
    expect(f.name).toBe('signature.png')
    expect(f.type).toBe('image/png')
    const bytes = await new Promise<ArrayBuffer>((resolve) => {
      const r = new FileReader()
      r.onload = () => resolve(r.result as ArrayBuffer)
      r.readAsArrayBuffer(f)
    })
    expect([...new Uint8Array(bytes)]).toEqual(png)
  })

  it('refuses what is not a data URL', () => {
    expect(() => signatureFile('/api/v1/files/x')).toThrow()
  })

  it('sizes the drawing buffer for the pixel density, never below one', () => {
    expect(canvasSize(300, 160, 3)).toEqual({ width: 900, height: 480, ratio: 3 })
    expect(canvasSize(300.4, 160, 0)).toEqual({ width: 300, height: 160, ratio: 1 })
  })
})
