import { fileTypeFromBuffer } from 'file-type'
import { lookup } from 'mime-types'

/** How many leading bytes the sniffer looks at (as Go's http.DetectContentType, which Kubo uses). */
export const SNIFF_BYTES = 512

/** A Content-Type from the file name's extension, if it has a known one. */
export function typeFromName(name: string | undefined): string | undefined {
  if (name == null || !name.includes('.')) return undefined
  const type = lookup(name)
  if (type === false) return undefined
  return type.startsWith('text/') ? `${type}; charset=utf-8` : type
}

/**
 * A Content-Type from the first bytes: HTML, SVG, known binary formats, JSON (when `whole` says
 * these are all the bytes and they parse), else UTF-8 text or octet-stream.
 */
export async function typeFromBytes(head: Uint8Array, whole = false): Promise<string> {
  const text = Buffer.from(head.subarray(0, SNIFF_BYTES)).toString('utf8')
  const start = text.trimStart().slice(0, 64).toLowerCase()
  if (
    start.startsWith('<!doctype html') ||
    start.startsWith('<html') ||
    start.startsWith('<head') ||
    start.startsWith('<body')
  )
    return 'text/html; charset=utf-8'
  if (start.startsWith('<svg') || (start.startsWith('<?xml') && text.includes('<svg'))) return 'image/svg+xml'
  const found = await fileTypeFromBuffer(head)
  if (found != null) return found.mime
  if (!looksLikeText(head)) return 'application/octet-stream'
  if (whole && (start.startsWith('{') || start.startsWith('['))) {
    try {
      JSON.parse(text)
      return 'application/json'
    } catch {}
  }
  return 'text/plain; charset=utf-8'
}

/** No NUL or other binary control bytes in the sample, as Go's sniffer decides. */
function looksLikeText(head: Uint8Array): boolean {
  for (const b of head.subarray(0, SNIFF_BYTES)) {
    if (b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f)) return false
  }
  return true
}
