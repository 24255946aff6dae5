// The symbologies the canvas previews, drawn as SVG by bwip-js — named imports only, so the
// chunk holds these five encoders and not bwip-js's hundred. Loaded on demand (symbols.ts):
// no other page carries it.
import { code128, drawingSVG, ean13, gs1_128, gs1datamatrix, qrcode } from 'bwip-js/browser'
import type { ElementType } from './model'

/** drawSVG draws text as a symbol of type; bwip-js throws on content the symbology refuses. */
export function drawSVG(type: ElementType, text: string, humanReadable: boolean): string {
  const opts = { text, scale: 2, includetext: humanReadable, textxalign: 'center' as const }
  switch (type) {
    case 'qr':
      return qrcode({ bcid: 'qrcode', text }, drawingSVG())
    case 'datamatrix':
      return gs1datamatrix({ bcid: 'gs1datamatrix', text }, drawingSVG())
    case 'gs1_128':
      return gs1_128({ bcid: 'gs1-128', ...opts }, drawingSVG())
    case 'ean13':
      return ean13({ bcid: 'ean13', ...opts }, drawingSVG())
    default:
      return code128({ bcid: 'code128', ...opts }, drawingSVG())
  }
}
