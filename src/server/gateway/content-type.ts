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
  if (start.startsWith('%pdf-')) return 'application/pdf'
  // text needs no magic-number search (which costs about 0.3 ms a call); binary formats do
  if (!looksLikeText(head)) {
    const found = await fileTypeFromBuffer(head)
    return found?.mime ?? 'application/octet-stream'
  }
  if (whole && (start.startsWith('{') || start.startsWith('['))) {
    try {
      JSON.parse(text)
      return 'application/json'
    } catch {}
  }
  return 'text/plain; charset=utf-8'
}

/** Valid UTF-8 (a character cut at the end of the sample allowed) without binary control bytes. */
function looksLikeText(head: Uint8Array): boolean {
  const sample = head.subarray(0, SNIFF_BYTES)
  for (const b of sample) {
    if (b <= 0x08 || b === 0x0b || (b >= 0x0e && b <= 0x1a) || (b >= 0x1c && b <= 0x1f)) return false
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample, { stream: true })
    return true
  } catch {
    return false
  }
}
