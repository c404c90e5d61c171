import { InvalidInputError } from '../errors.ts'

/**
 * What parseSize reads: bytes, or a number and a unit (100MB, 64KiB, 1.5 GB). Cases are spelt out,
 * not left to an `i` flag, because the config's OpenAPI document carries the pattern without flags.
 */
export const SIZE_TEXT = /^\s*(\d+(?:\.\d+)?)\s*([KMGTkmgt]?[iI]?[bB]?)?\s*$/

/** Parses sizes such as 100MB, 64KiB or 1048576 into bytes. */
export function parseSize(input: string | number): number {
  if (typeof input === 'number') return input
  const m = SIZE_TEXT.exec(input)
  if (m == null)
    throw new InvalidInputError(`invalid size "${input}": use bytes or a unit such as 100MB, 64KiB`)
  const unit = (m[2] ?? '').toUpperCase().replace(/B$/, '')
  const power = ['', 'K', 'M', 'G', 'T'].indexOf(unit.replace('I', ''))
  const base = unit.includes('I') ? 1024 : 1000
  return Math.round(Number(m[1]) * base ** power)
}
