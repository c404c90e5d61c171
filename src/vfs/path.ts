import { InvalidInputError } from '../errors.ts'

/** A validated VFS path: absolute, normalised, with no way out of the root. */
export interface VfsPath {
  /** The canonical form, "/" or "/a/b" (no trailing slash). */
  path: string
  segments: string[]
  /** The caller wrote a trailing slash ("into this directory", for mv and cp). */
  trailingSlash: boolean
}

/** Longest path and name accepted (Linux's PATH_MAX and NAME_MAX). */
const MAX_PATH_BYTES = 4096
const MAX_NAME_BYTES = 255

/**
 * Parses a VFS path. Refused, with ERR_INVALID_INPUT: relative paths, "." and ".." segments, NUL
 * and other control bytes, backslashes and percent-encoded slashes or dots (which a later decoding
 * could turn into a way out), and over-long paths. Repeated slashes collapse, as in Kubo.
 */
export function parseVfsPath(input: string, what = 'path'): VfsPath {
  if (typeof input !== 'string' || input.length === 0) throw bad(what, input, 'it is empty')
  if (Buffer.byteLength(input) > MAX_PATH_BYTES)
    throw bad(what, input, `it is longer than ${MAX_PATH_BYTES} bytes`)
  if (!input.startsWith('/')) throw bad(what, input, 'VFS paths are absolute: start it with "/"')
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\x00-\x1f\x7f]/.test(input)) throw bad(what, input, 'it contains a NUL or control character')
  if (input.includes('\\')) throw bad(what, input, 'it contains a backslash')
  if (/%(2f|5c|2e|00)/i.test(input)) throw bad(what, input, 'it contains an encoded slash, dot or NUL')
  const segments = input.split('/').filter((s) => s !== '')
  for (const s of segments) {
    if (s === '.' || s === '..') throw bad(what, input, '"." and ".." are not allowed')
    if (Buffer.byteLength(s) > MAX_NAME_BYTES)
      throw bad(what, input, `a name is longer than ${MAX_NAME_BYTES} bytes`)
  }
  return {
    path: `/${segments.join('/')}`,
    segments,
    trailingSlash: input.length > 1 && input.endsWith('/'),
  }
}

/** The parent's segments and the last name of a non-root path. */
export function splitLast(p: VfsPath): { dir: string[]; name: string } {
  if (p.segments.length === 0) throw new InvalidInputError('this operation needs a path below "/"')
  return { dir: p.segments.slice(0, -1), name: p.segments[p.segments.length - 1]! }
}

export function joinPath(segments: string[]): string {
  return `/${segments.join('/')}`
}

function bad(what: string, input: string, why: string): InvalidInputError {
  const shown = JSON.stringify(input.length > 100 ? `${input.slice(0, 97)}...` : input)
  return new InvalidInputError(`invalid VFS ${what} ${shown}: ${why}`)
}
