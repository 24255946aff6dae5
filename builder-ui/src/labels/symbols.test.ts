import { describe, expect, it } from 'vitest'
import { drawSymbol } from './symbols'
import { sampleValue } from './placeholders'

describe('code previews', () => {
  it('draws each symbology from its sample value as an SVG image', async () => {
    for (const [type, value] of [['qr', '{{code.url}}'], ['datamatrix', '(01){{gtin}}(10){{lot_no}}'], ['gs1_128', '(01){{code.gtin}}(10){{code.lot}}(21){{code.serial}}'], ['code128', '{{record.id}}'], ['ean13', '{{gtin}}']] as const) {
      const d = await drawSymbol(type, sampleValue(type, value), type !== 'qr')
      expect(d.error, type).toBeUndefined()
      expect(atob(d.src!.replace('data:image/svg+xml;base64,', ''))).toMatch(/^<svg/)
    }
  })
  it('says why content is refused', async () => {
    const d = await drawSymbol('ean13', 'ABC', true)
    expect(d.src).toBeUndefined()
    expect(d.error).toBeTruthy()
  })
})
