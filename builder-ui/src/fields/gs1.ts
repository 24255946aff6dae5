/** GS1Element is one AI and its value. */
export interface GS1Element {
  ai: string
  value: string
}

/**
 * parseBracketedGS1 splits a GS1 element string written with its AIs in brackets,
 * "(01)09501101530003(17)261231(10)LOT-7", for a preview; [] for anything else. The server is
 * the judge of GS1 data (check digits, dates, raw FNC1 strings, Digital Link URIs).
 */
export function parseBracketedGS1(s: string): GS1Element[] {
  const text = s.trim()
  if (!/^\(\d{2,4}\)/.test(text)) return []
  const out: GS1Element[] = []
  const re = /\((\d{2,4})\)([^()]*)/y
  let m: RegExpExecArray | null
  while ((m = re.exec(text)) !== null) {
    out.push({ ai: m[1], value: m[2] })
    if (re.lastIndex === text.length) return out
  }
  return []
}
