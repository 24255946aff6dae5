// The barcode reader behind the camera: the browser's own BarcodeDetector where it reads every
// symbology we need (Chrome on Android, Safari on macOS), else the barcode-detector ponyfill,
// ZXing-C++ compiled to WebAssembly. The .wasm is bundled into dist/assets and served by our
// binary from our own origin: locateFile points there, so nothing is fetched from a CDN (and
// the CSP, default-src 'self', would refuse it anyway). This module is a lazily loaded chunk.
import wasmURL from 'zxing-wasm/reader/zxing_reader.wasm?url'

/** formats are the symbologies of a plant: GS1 DataMatrix and QR, GS1-128, EAN-13. */
export const formats = ['qr_code', 'data_matrix', 'code_128', 'ean_13'] as const

/** engineKey in localStorage forces the WebAssembly reader ("zxing"), for tests and support. */
export const engineKey = 'tc.scan.engine'

export interface Barcode {
  rawValue: string
  format: string
}

export interface Reader {
  /** engine says which reader this is: the browser's ("native") or ours ("zxing"). */
  engine: 'native' | 'zxing'
  detect(source: ImageBitmapSource): Promise<Barcode[]>
}

interface DetectorClass {
  new (opts: { formats: string[] }): { detect(source: ImageBitmapSource): Promise<Barcode[]> }
  getSupportedFormats(): Promise<string[]>
}

let pending: Promise<Reader> | null = null

/** reader makes the reader once per page. */
export function reader(): Promise<Reader> {
  pending ??= makeReader().catch((e) => {
    pending = null
    throw e
  })
  return pending
}

async function makeReader(): Promise<Reader> {
  const Native = (globalThis as { BarcodeDetector?: DetectorClass }).BarcodeDetector
  if (Native && globalThis.localStorage?.getItem(engineKey) !== 'zxing') {
    try {
      const supported = await Native.getSupportedFormats()
      if (formats.every((f) => supported.includes(f))) {
        const d = new Native({ formats: [...formats] })
        return { engine: 'native', detect: (s) => d.detect(s) }
      }
    } catch {
      // A detector that cannot say what it reads is not used.
    }
  }
  const { BarcodeDetector, prepareZXingModule } = await import('barcode-detector/ponyfill')
  const wasm = new URL(wasmURL, location.href).href
  prepareZXingModule({
    overrides: { locateFile: (path: string, prefix: string) => (path.endsWith('.wasm') ? wasm : prefix + path) },
  })
  const d = new BarcodeDetector({ formats: [...formats] })
  return { engine: 'zxing', detect: (s) => d.detect(s) }
}
