import { InvalidInputError } from '../errors.ts'

/** Parses sizes such as 100MB, 64KiB or 1048576 into bytes. */
export function parseSize(input: string | number): number {
  if (typeof input === 'number') return input
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)?\s*$/i.exec(input)
  if (m == null)
    throw new InvalidInputError(`invalid size "${input}": use bytes or a unit such as 100MB, 64KiB`)
  const unit = (m[2] ?? '').toUpperCase().replace(/B$/, '')
  const power = ['', 'K', 'M', 'G', 'T'].indexOf(unit.replace('I', ''))
  const base = unit.includes('I') ? 1024 : 1000
  return Math.round(Number(m[1]) * base ** power)
}
