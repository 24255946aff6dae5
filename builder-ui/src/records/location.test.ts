import { describe, expect, it } from 'vitest'
import { asValue, capture, gcj02ToBd09, LocationError, parseManual, valueOf, wgs84ToGcj02, type GeolocationLike } from './location'

const geo = (result: { lat: number; lng: number; accuracy: number } | { code: number }): GeolocationLike => ({
  getCurrentPosition(ok, fail) {
    if ('code' in result) fail(result)
    else ok({ coords: { latitude: result.lat, longitude: result.lng, accuracy: result.accuracy } })
  },
})

describe('capture', () => {
  it('reads the position with its accuracy', async () => {
    expect(await capture(geo({ lat: 31.2304, lng: 121.4737, accuracy: 12.5 }), true)).toEqual({ lat: 31.2304, lng: 121.4737, accuracy: 12.5 })
  })
  it('names why there is no position', async () => {
    await expect(capture(geo({ lat: 0, lng: 0, accuracy: 1 }), false)).rejects.toEqual(new LocationError('insecure'))
    await expect(capture(undefined, true)).rejects.toEqual(new LocationError('unsupported'))
    await expect(capture(geo({ code: 1 }), true)).rejects.toEqual(new LocationError('denied'))
    await expect(capture(geo({ code: 2 }), true)).rejects.toEqual(new LocationError('unavailable'))
    await expect(capture(geo({ code: 3 }), true)).rejects.toEqual(new LocationError('timeout'))
  })
})

describe('valueOf', () => {
  it('stores WGS-84 as it comes, to six decimals, keeping the address', () => {
    expect(valueOf({ lat: 31.23041234, lng: 121.47371234 }, 'wgs84', '一号仓库')).toEqual({ lat: 31.230412, lng: 121.473712, address: '一号仓库' })
    expect(valueOf({ lat: 31.2304, lng: 121.4737 }, undefined)).toEqual({ lat: 31.2304, lng: 121.4737, address: '' })
  })
  it('shifts to GCJ-02 and BD-09 as Chinese maps expect (reference values of coordtransform)', () => {
    const [gl, ga] = wgs84ToGcj02(116.404, 39.915)
    expect(gl).toBeCloseTo(116.41024449916938, 12)
    expect(ga).toBeCloseTo(39.91640428150164, 12)
    const [bl, ba] = gcj02ToBd09(116.404, 39.915)
    expect(bl).toBeCloseTo(116.41036949371029, 12)
    expect(ba).toBeCloseTo(39.92133699351021, 12)
    expect(valueOf({ lat: 39.915, lng: 116.404 }, 'gcj02')).toEqual({ lat: 39.916404, lng: 116.410244, address: '' })
    // Outside China the systems agree.
    expect(wgs84ToGcj02(2.3522, 48.8566)).toEqual([2.3522, 48.8566])
  })
})

describe('parseManual', () => {
  it('reads typed coordinates, and a pasted "lat, lng"', () => {
    expect(parseManual({ lat: '31.2304', lng: '121.4737', address: ' 仓库 ' })).toEqual({ value: { lat: 31.2304, lng: 121.4737, address: '仓库' }, problems: {} })
    expect(parseManual({ lat: '31.2304，121.4737', lng: '', address: '' }).value).toEqual({ lat: 31.2304, lng: 121.4737, address: '' })
    expect(parseManual({ lat: '', lng: '', address: '' })).toEqual({ value: null, problems: {} })
  })
  it('names each bad box', () => {
    expect(parseManual({ lat: '91', lng: 'abc', address: '' }).problems).toEqual({ lat: 'range', lng: 'number' })
    expect(parseManual({ lat: '', lng: '', address: '仓库' }).problems).toEqual({ lat: 'required', lng: 'required' })
  })
})

describe('asValue', () => {
  it('reads a stored location', () => {
    expect(asValue({ lat: 1, lng: 2 })).toEqual({ lat: 1, lng: 2, address: '' })
    expect(asValue('')).toBeNull()
    expect(asValue({ lat: '1', lng: 2 })).toBeNull()
  })
})
