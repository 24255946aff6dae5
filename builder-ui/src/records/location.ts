// A location field's value from the browser's geolocation, in the shape the engine stores
// (forms/field_location.go): {lat, lng, address}, in the field's coordinate system. Browsers
// give WGS-84; a field kept in GCJ-02 (AMap, Tencent, WeChat) or BD-09 (Baidu) gets the
// coordinates shifted as those maps expect, so a pin lands where the phone was. Pure apart from
// the geolocation object it is given: unit-tested.

/** LocationValue is a location field's stored value. */
export interface LocationValue {
  lat: number
  lng: number
  address: string
}

export type CoordinateSystem = 'wgs84' | 'gcj02' | 'bd09'

/** Fix is one reading of the browser's position: WGS-84 degrees and accuracy in metres. */
export interface Fix {
  lat: number
  lng: number
  accuracy: number
}

/** LocationProblem names why no position came, for a message in the app's language. */
export type LocationProblem = 'insecure' | 'unsupported' | 'denied' | 'unavailable' | 'timeout'

/** LocationError is a failed capture. */
export class LocationError extends Error {
  constructor(readonly problem: LocationProblem) {
    super(`location: ${problem}`)
    this.name = 'LocationError'
  }
}

/** GeolocationLike is the part of navigator.geolocation a capture uses. */
export interface GeolocationLike {
  getCurrentPosition(ok: (p: { coords: { latitude: number; longitude: number; accuracy: number } }) => void, fail: (e: { code: number }) => void, opts?: PositionOptions): void
}

/**
 * capture asks the browser where it is (high accuracy, up to 15 s, no reading older than 10 s).
 * Browsers give positions only to secure pages (HTTPS, or localhost): on plain HTTP the capture
 * fails as insecure before asking, so the message can say why.
 */
export function capture(geo: GeolocationLike | undefined, secure: boolean): Promise<Fix> {
  if (!secure) return Promise.reject(new LocationError('insecure'))
  if (!geo) return Promise.reject(new LocationError('unsupported'))
  return new Promise((resolve, reject) => {
    geo.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lng: p.coords.longitude, accuracy: p.coords.accuracy }),
      // GeolocationPositionError codes: 1 denied, 2 unavailable, 3 timeout.
      (e) => reject(new LocationError(e.code === 1 ? 'denied' : e.code === 3 ? 'timeout' : 'unavailable')),
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 10000 },
    )
  })
}

/** round6 keeps six decimals: about 0.1 m, finer than any phone's fix. */
function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6
}

/** valueOf is the stored value of a fix in the field's system, keeping an address already typed. */
export function valueOf(fix: Pick<Fix, 'lat' | 'lng'>, system: CoordinateSystem | string | undefined, address = ''): LocationValue {
  let [lng, lat] = [fix.lng, fix.lat]
  if (system === 'gcj02' || system === 'bd09') [lng, lat] = wgs84ToGcj02(lng, lat)
  if (system === 'bd09') [lng, lat] = gcj02ToBd09(lng, lat)
  return { lat: round6(lat), lng: round6(lng), address }
}

/** ManualInput is what a person typed when the browser cannot locate. */
export interface ManualInput {
  lat: string
  lng: string
  address: string
}

/**
 * parseManual checks typed coordinates (also "lat, lng" pasted into the latitude box, as map
 * apps copy them): the value, null for all empty, or the problem of each bad box.
 */
export function parseManual(m: ManualInput): { value: LocationValue | null; problems: Partial<Record<'lat' | 'lng', 'required' | 'number' | 'range'>> } {
  let lat = m.lat.trim()
  let lng = m.lng.trim()
  const pair = /^(-?[\d.]+)\s*[,，]\s*(-?[\d.]+)$/.exec(lat)
  if (pair && !lng) [lat, lng] = [pair[1], pair[2]]
  const address = m.address.trim()
  if (!lat && !lng && !address) return { value: null, problems: {} }
  const problems: Partial<Record<'lat' | 'lng', 'required' | 'number' | 'range'>> = {}
  const read = (s: string, key: 'lat' | 'lng', limit: number) => {
    if (!s) return (problems[key] = 'required'), NaN
    const n = Number(s)
    if (!Number.isFinite(n)) return (problems[key] = 'number'), NaN
    if (Math.abs(n) > limit) return (problems[key] = 'range'), NaN
    return n
  }
  const la = read(lat, 'lat', 90)
  const ln = read(lng, 'lng', 180)
  if (Object.keys(problems).length) return { value: null, problems }
  return { value: { lat: la, lng: ln, address }, problems }
}

/** asValue reads a stored value (or what an import left) as a LocationValue, or null. */
export function asValue(v: unknown): LocationValue | null {
  if (!v || typeof v !== 'object') return null
  const o = v as Record<string, unknown>
  if (typeof o.lat !== 'number' || typeof o.lng !== 'number') return null
  return { lat: o.lat, lng: o.lng, address: typeof o.address === 'string' ? o.address : '' }
}

// GCJ-02 is WGS-84 shifted by a published polynomial inside mainland China (the same formulas
// every map SDK uses); outside it the two are the same.
const A = 6378245.0
const EE = 0.00669342162296594323
const X_PI = (Math.PI * 3000.0) / 180.0

function outOfChina(lng: number, lat: number): boolean {
  return lng < 72.004 || lng > 137.8347 || lat < 0.8293 || lat > 55.8271
}

function shiftLat(x: number, y: number): number {
  let r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x))
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0
  r += ((20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin((y / 3.0) * Math.PI)) * 2.0) / 3.0
  r += ((160.0 * Math.sin((y / 12.0) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30.0)) * 2.0) / 3.0
  return r
}

function shiftLng(x: number, y: number): number {
  let r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x))
  r += ((20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0) / 3.0
  r += ((20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin((x / 3.0) * Math.PI)) * 2.0) / 3.0
  r += ((150.0 * Math.sin((x / 12.0) * Math.PI) + 300.0 * Math.sin((x / 30.0) * Math.PI)) * 2.0) / 3.0
  return r
}

/** wgs84ToGcj02 shifts a WGS-84 point to GCJ-02 ([lng, lat]). */
export function wgs84ToGcj02(lng: number, lat: number): [number, number] {
  if (outOfChina(lng, lat)) return [lng, lat]
  let dlat = shiftLat(lng - 105.0, lat - 35.0)
  let dlng = shiftLng(lng - 105.0, lat - 35.0)
  const radlat = (lat / 180.0) * Math.PI
  let magic = Math.sin(radlat)
  magic = 1 - EE * magic * magic
  const sqrtmagic = Math.sqrt(magic)
  dlat = (dlat * 180.0) / (((A * (1 - EE)) / (magic * sqrtmagic)) * Math.PI)
  dlng = (dlng * 180.0) / ((A / sqrtmagic) * Math.cos(radlat) * Math.PI)
  return [lng + dlng, lat + dlat]
}

/** gcj02ToBd09 shifts a GCJ-02 point to Baidu's BD-09 ([lng, lat]). */
export function gcj02ToBd09(lng: number, lat: number): [number, number] {
  const z = Math.sqrt(lng * lng + lat * lat) + 0.00002 * Math.sin(lat * X_PI)
  const theta = Math.atan2(lat, lng) + 0.000003 * Math.cos(lng * X_PI)
  return [z * Math.cos(theta) + 0.0065, z * Math.sin(theta) + 0.006]
}
