import { createCipheriv, createHash } from 'node:crypto'
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { CarWriter } from '@ipld/car'
import type { CID } from 'multiformats/cid'

/**
 * Writes `size` deterministic pseudo-random bytes: the AES-128-CTR keystream of a key derived from
 * `seed` (fast: 512 MiB in about a second), so the same seed always gives the same file.
 */
export function writeRandomFile(path: string, size: number, seed = 'ipfs-kit'): void {
  const key = createHash('sha256').update(seed).digest()
  const cipher = createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32))
  const zeros = Buffer.alloc(Math.min(size, 4 << 20))
  const fd = openSync(path, 'w')
  try {
    for (let written = 0; written < size; ) {
      const n = Math.min(zeros.length, size - written)
      writeSync(fd, cipher.update(zeros.subarray(0, n)))
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

/** How far this process's RSS rose above where it started while `fn` ran (sampled every 5 ms), in bytes. */
export async function rssGrowth(fn: () => Promise<unknown>): Promise<number> {
  global.gc?.()
  const base = process.memoryUsage().rss
  let peak = base
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 5)
  try {
    await fn()
  } finally {
    clearInterval(sampler)
  }
  return Math.max(peak, process.memoryUsage().rss) - base
}

/** Polls `probe` every 200 ms until it returns something other than undefined; fails after `ms`. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/** A CARv1 of these blocks (in this order) under these roots, in memory. */
export async function carOf(roots: CID[], blocks: { cid: CID; bytes: Uint8Array }[]): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create(roots)
  const parts: Uint8Array[] = []
  const collect = (async () => {
    for await (const p of out) parts.push(p)
  })()
  for (const b of blocks) await writer.put(b)
  await writer.close()
  await collect
  return Buffer.concat(parts)
}
