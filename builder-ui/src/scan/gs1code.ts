// What a camera read is turned into before it fills a scan field, and the GS1 preview of a
// field's text. The server is the judge of GS1 data (check digits, dates, every AI); this only
// splits element strings so the operator sees what was read.
import { type GS1Element, parseBracketedGS1 } from '../fields/gs1'

/** GS is the separator after a variable-length value in a raw element string (FNC1). */
export const GS = '\x1d'

// The number of digits of an AI, by its first two (GS1 General Specifications, the AI table).
const aiDigits: Record<string, number> = {}
for (const p of ['00', '01', '02', '03', '04', '10', '11', '12', '13', '14', '15', '16', '17', '18', '19', '20', '21', '22', '30', '37', '90', '91', '92', '93', '94', '95', '96', '97', '98', '99']) aiDigits[p] = 2
for (const p of ['23', '24', '25', '40', '41', '42', '71']) aiDigits[p] = 3
for (const p of ['31', '32', '33', '34', '35', '36', '39', '43', '70', '72', '80', '81', '82']) aiDigits[p] = 4

// Values of predefined length, which no GS ends, by the AI's first two digits.
const fixedLength: Record<string, number> = {
  '00': 18, '01': 14, '02': 14, '03': 14, '04': 16, '11': 6, '12': 6, '13': 6, '14': 6, '15': 6, '16': 6,
  '17': 6, '18': 6, '19': 6, '20': 2, '31': 6, '32': 6, '33': 6, '34': 6, '35': 6, '36': 6, '41': 13,
}

// Symbology identifiers of symbols that carry GS1 element strings: GS1-128, GS1 DataBar,
// GS1 DataMatrix, GS1 QR, GS1 DotCode.
const gs1Symbologies = new Set([']C1', ']e0', ']d2', ']Q3', ']J1'])

/** validCheckDigit checks the GS1 mod-10 check digit, the last of digits. */
export function validCheckDigit(digits: string): boolean {
  if (!/^\d{2,}$/.test(digits)) return false
  let sum = 0
  for (let i = digits.length - 2, w = 3; i >= 0; i--, w = 4 - w) sum += Number(digits[i]) * w
  return (10 - (sum % 10)) % 10 === Number(digits[digits.length - 1])
}

/**
 * parseRawGS1 splits a raw element string, AIs and values run together with GS after a
 * variable-length value ("0109501101530003172612311" + "0LOT-7"); null when it does not split.
 */
export function parseRawGS1(s: string): GS1Element[] | null {
  const out: GS1Element[] = []
  let i = 0
  while (i < s.length) {
    if (s[i] === GS) { i++; continue }
    const n = aiDigits[s.slice(i, i + 2)]
    const ai = s.slice(i, i + (n ?? 0))
    if (!n || !/^\d+$/.test(ai) || ai.length < n) return null
    i += n
    const fixed = fixedLength[ai.slice(0, 2)]
    let end: number
    if (fixed) {
      end = i + fixed
    } else {
      const gs = s.indexOf(GS, i)
      end = gs < 0 ? s.length : gs
    }
    if (end > s.length || end === i) return null
    out.push({ ai, value: s.slice(i, end) })
    i = end
  }
  return out.length ? out : null
}

// Primary keys a GS1 Digital Link URI's path starts with.
const linkKeys = new Set(['00', '01', '253', '255', '401', '402', '414', '417', '8003', '8004', '8006', '8010', '8013', '8017', '8018'])

/**
 * parseDigitalLink reads a GS1 Digital Link URI: the key and its qualifiers from the path
 * ("/01/09501101530003/10/LOT-8"), data attributes from the query ("?17=261231"); null for
 * other text.
 */
export function parseDigitalLink(s: string): GS1Element[] | null {
  if (!/^https?:\/\//i.test(s)) return null
  let url: URL
  try { url = new URL(s) } catch { return null }
  const segs = url.pathname.split('/').filter(Boolean)
  for (let k = 0; k < segs.length; k++) {
    if (!linkKeys.has(segs[k]) || (segs.length - k) % 2 !== 0) continue
    const out: GS1Element[] = []
    let ok = true
    for (let j = k; j < segs.length; j += 2) {
      if (!/^\d{2,4}$/.test(segs[j])) { ok = false; break }
      let value: string
      try { value = decodeURIComponent(segs[j + 1]) } catch { ok = false; break }
      out.push({ ai: segs[j], value })
    }
    if (!ok) continue
    for (const [key, value] of url.searchParams) {
      if (/^\d{2,4}$/.test(key)) out.push({ ai: key, value })
    }
    return out
  }
  return null
}

function splitSymbology(s: string): [string, string] {
  return /^\][A-Za-z]\d/.test(s) ? [s.slice(0, 3), s.slice(3)] : ['', s]
}

// startsWithKey: a raw element string sent without identifier or GS starts with an SSCC or a
// GTIN whose check digit is right (a chance match of an internal code needs both).
function startsWithKey(s: string): boolean {
  const m = /^(00)(\d{18})|^(0[12])(\d{14})/.exec(s)
  return !!m && validCheckDigit(m[2] ?? m[4])
}

/** parseScannedGS1 is the preview of a scan field: bracketed, raw or Digital Link; [] else. */
export function parseScannedGS1(text: string): GS1Element[] {
  const t = text.trim()
  const bracketed = parseBracketedGS1(t)
  if (bracketed.length) return bracketed
  const [id, body] = splitSymbology(t)
  if (id && !gs1Symbologies.has(id)) return []
  return parseDigitalLink(body) ?? (id || body.includes(GS) || startsWithKey(body) ? parseRawGS1(body) ?? [] : [])
}

/**
 * fieldText is what a camera read puts in a scan field: a GS1 element string in its bracketed
 * form ("(01)09501101530003(17)261231(10)LOT-7": readable, and what scanners' manuals show);
 * anything else (Digital Link URIs, EAN-13, internal codes) as read.
 */
export function fieldText(raw: string): string {
  const t = raw.trim()
  if (parseBracketedGS1(t).length || /^https?:\/\//i.test(t)) return t
  const [id, body] = splitSymbology(t)
  if (id && !gs1Symbologies.has(id)) return body
  if (!id && !body.includes(GS) && !startsWithKey(body)) return body
  const els = parseRawGS1(body)
  if (!els || els.some((e) => /[()]/.test(e.value))) return t
  return els.map((e) => `(${e.ai})${e.value}`).join('')
}
