// Helpers of the signature pad that need no canvas: the PNG a drawing becomes, and the canvas
// size for the screen's pixel density.

/** signatureFile turns a PNG data URL (canvas.toDataURL) into the file that is uploaded. */
export function signatureFile(dataURL: string, name = 'signature.png'): File {
  const m = /^data:([^;,]+)?(;base64)?,(.*)$/s.exec(dataURL)
  if (!m) throw new Error('not a data URL')
  const type = m[1] || 'application/octet-stream'
  let bytes: Uint8Array
  if (m[2]) {
    const bin = atob(m[3])
    bytes = new Uint8Array(bin.length)
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i)
  } else {
    bytes = new TextEncoder().encode(decodeURIComponent(m[3]))
  }
  return new File([bytes as BlobPart], name, { type })
}

/**
 * canvasSize is the drawing buffer for a canvas shown at width×height CSS pixels on a screen
 * of ratio device pixels per CSS pixel (at least 1): sharp strokes on a phone.
 */
export function canvasSize(width: number, height: number, ratio: number): { width: number; height: number; ratio: number } {
  const r = Math.max(1, ratio || 1)
  return { width: Math.round(width * r), height: Math.round(height * r), ratio: r }
}
