import { describe, expect, it } from 'vitest'
import { fieldText, parseDigitalLink, parseRawGS1, parseScannedGS1, validCheckDigit } from './gs1code'

const GS = '\x1d'

describe('camera reads into scan fields', () => {
  it('turns a raw element string (GS1 DataMatrix / QR / 128 as decoders give it) into the bracketed form', () => {
    expect(fieldText(`0109501101530003172612311` + `0LOT-7`)).toBe('(01)09501101530003(17)261231(10)LOT-7')
    expect(fieldText(`010950110153000310LOT-7${GS}17261231`)).toBe('(01)09501101530003(10)LOT-7(17)261231')
    expect(fieldText(`]d2010950110153000310LOT-7${GS}3103000500`)).toBe('(01)09501101530003(10)LOT-7(3103)000500')
    expect(fieldText(`]C100395011015300000003`)).toBe('(00)395011015300000003')
  })
  it('keeps Digital Link URIs, EAN-13, bracketed strings and internal codes as read', () => {
    for (const s of ['https://id.example.com/01/09501101530003/10/LOT-8?17=261231', '6901234567892', '(01)09501101530003', 'RM-20260101-0001', '0123456789']) {
      expect(fieldText(s)).toBe(s)
    }
    expect(fieldText(' RM-1 \n')).toBe('RM-1')
  })
  it('keeps text a GS1 reading would garble', () => {
    const raw = `010950110153000310LOT(7)${GS}17261231`
    expect(fieldText(raw)).toBe(raw)
  })
})

describe('GS1 preview', () => {
  it('splits raw element strings by the AI table', () => {
    expect(parseRawGS1(`0109501101530003${GS}10A1${GS}21S9`)).toEqual([{ ai: '01', value: '09501101530003' }, { ai: '10', value: 'A1' }, { ai: '21', value: 'S9' }])
    expect(parseRawGS1('0109501101')).toBeNull() // too short for a GTIN
    expect(parseRawGS1('ZZ12')).toBeNull()
  })
  it('reads Digital Link URIs, with a path prefix and query attributes', () => {
    expect(parseDigitalLink('https://example.com/shop/01/09501101530003/10/LOT%208?17=261231&x=1')).toEqual([
      { ai: '01', value: '09501101530003' }, { ai: '10', value: 'LOT 8' }, { ai: '17', value: '261231' }])
    expect(parseDigitalLink('https://example.com/about/us')).toBeNull()
    expect(parseDigitalLink('not a url')).toBeNull()
  })
  it('previews every form a field may hold, and nothing for internal codes', () => {
    expect(parseScannedGS1('(01)09501101530003(10)L1').map((e) => e.ai)).toEqual(['01', '10'])
    expect(parseScannedGS1(`0109501101530003${GS}10L1`).map((e) => e.ai)).toEqual(['01', '10'])
    expect(parseScannedGS1('https://id.example.com/01/09501101530003').map((e) => e.ai)).toEqual(['01'])
    expect(parseScannedGS1('RM-20260101-0001')).toEqual([])
    expect(parseScannedGS1('0112345678901234')).toEqual([]) // check digit wrong: an internal number
  })
  it('checks GS1 check digits', () => {
    expect(validCheckDigit('09501101530003')).toBe(true)
    expect(validCheckDigit('6901234567892')).toBe(true)
    expect(validCheckDigit('09501101530004')).toBe(false)
  })
})
