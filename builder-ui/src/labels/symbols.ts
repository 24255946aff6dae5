// Code previews for the canvas: bwip-js is loaded the first time a code is drawn (its own
// chunk), and each drawing is kept by type, content and human-readable flag, so moving an
// element redraws nothing.
import type { ElementType } from './model'

/** Drawn is a drawn code as an image source (a data: URL of its SVG), or why it could not be. */
export interface Drawn {
  src?: string
  error?: string
}

const cache = new Map<string, Drawn>()
let loading: Promise<typeof import('./bwip')> | undefined

/** drawSymbol draws (or finds drawn) the code; the answer is an image source or an error. */
export async function drawSymbol(type: ElementType, text: string, humanReadable: boolean): Promise<Drawn> {
  const key = `${type}\u0000${humanReadable ? 1 : 0}\u0000${text}`
  const hit = cache.get(key)
  if (hit) return hit
  loading ??= import('./bwip')
  const bwip = await loading
  let out: Drawn
  try {
    const svg = bwip.drawSVG(type, text, humanReadable)
    out = { src: `data:image/svg+xml;base64,${base64(svg)}` }
  } catch (e) {
    out = { error: String((e as Error)?.message ?? e).replace(/^bwipp\.\w+#\d+:\s*/, '') }
  }
  if (cache.size > 500) cache.clear()
  cache.set(key, out)
  return out
}

function base64(s: string): string {
  const bytes = new TextEncoder().encode(s)
  let bin = ''
  for (const b of bytes) bin += String.fromCharCode(b)
  return btoa(bin)
}
