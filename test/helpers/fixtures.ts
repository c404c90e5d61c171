import { createHash } from 'node:crypto'
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'

/** Writes `size` deterministic pseudo-random bytes (a sha256 counter stream seeded by `seed`). */
export function writeRandomFile(path: string, size: number, seed = 'ipfs-kit'): void {
  const fd = openSync(path, 'w')
  try {
    const chunk = Buffer.allocUnsafe(Math.min(size, 1 << 20) + 32)
    let written = 0
    let counter = 0
    while (written < size) {
      let filled = 0
      const want = Math.min(chunk.length - 32, size - written)
      while (filled < want) {
        const h = createHash('sha256').update(`${seed}:${counter++}`).digest()
        filled += h.copy(chunk, filled)
      }
      const n = want // the slack past `want` may hold part of the last hash: never write it
      writeSync(fd, chunk, 0, n)
      written += n
    }
  } finally {
    closeSync(fd)
  }
}

/** A directory of `count` small files spread over a few subdirectories. */
export function writeTree(root: string, count: number): void {
  for (let i = 0; i < count; i++) {
    const dir = join(root, `d${i % 7}`)
    mkdirSync(dir, { recursive: true })
    writeRandomFile(join(dir, `file-${i}.bin`), 100 + ((i * 37) % 5000), `tree-${i}`)
  }
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}
