import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { type FileMetaData, parquetMetadata, parquetReadObjects } from 'hyparquet'
import { parseCid } from '../content/cid.ts'
import { IpfsKitError } from '../errors.ts'
import { PIN_INDEX_FILE, type PinIndexRow } from '../pin-index/schema.ts'

/** A backend as the daemon last saw it, from the index's metadata. */
export interface IndexedBackend {
  name: string
  type: string
  state: string
  usable: boolean
  status: string
  latencyMs: number | null
  freeBytes: number | null
  checkedAt: number | null
}

export interface Route {
  backend: string
  state: string
  verifiedAt: Date | null
  status: string
  latencyMs: number | null
  /** What the backend says of this replica ("degraded: pinned on 1 of 2 cluster peers"), if anything. */
  detail: string | null
}

export interface InspectResult {
  cid: string
  pinned: boolean
  name: string | null
  size: number | null
  status: string | null
  /** Backends holding a verified copy, best first (usable, then healthy, then lowest latency). */
  routes: Route[]
  /** Every replica row, verified or not. */
  replicas: Route[]
}

export interface SuggestResult {
  size: number
  replicas: number
  targets: { backend: string; reason: string }[]
  rejected: { backend: string; reason: string }[]
}

export interface BackendStats {
  backend: string
  pins: number
  verified: number
  bytes: number
  status: string
}

export interface RouteStats {
  pins: number
  bytes: number
  byStatus: Record<string, number>
  backends: BackendStats[]
  underReplicated: number
  publishedAt: number | null
}

/** Reads `pins.parquet` a piece at a time straight from the file. */
function fileBuffer(fd: number, byteLength: number) {
  return {
    byteLength,
    slice(start: number, end?: number): ArrayBuffer {
      const stop = end ?? byteLength
      const buf = Buffer.allocUnsafe(stop - start)
      readSync(fd, buf, 0, buf.length, start)
      return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length) as ArrayBuffer
    },
  }
}

interface Loaded {
  key: string
  fd: number
  size: number
  meta: FileMetaData
  /** First row of each row group, and the cid range it holds. */
  groups: { start: number; end: number; min: string; max: string }[]
  kv: Record<string, unknown>
  rowGroups: Map<number, PinIndexRow[]>
  stats?: RouteStats
}

const ROW_GROUP_CACHE = 64

/**
 * Answers routing questions from the published pin index without the daemon: where a CID is
 * (`inspect`), where a new pin would go (`suggest`), and what each backend holds (`stats`). A point
 * lookup reads only the footer and the one row group whose CID range covers it; both are cached
 * and reloaded only when the file changes.
 */
export class RouteReader {
  readonly path: string
  private loaded: Loaded | undefined

  constructor(opts: { dataDir: string } | { path: string }) {
    this.path = 'path' in opts ? opts.path : join(opts.dataDir, 'index', PIN_INDEX_FILE)
  }

  /** Opens the file again if it was replaced since the last call. */
  private load(): Loaded {
    let fd: number
    try {
      fd = openSync(this.path, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new IpfsKitError(
          'ERR_NO_INDEX',
          `no pin index at ${this.path}: start the daemon once (ipfs-kit daemon start) to publish it`,
        )
      }
      throw err
    }
    const st = fstatSync(fd)
    const key = `${st.ino}:${st.size}:${st.mtimeMs}`
    if (this.loaded?.key === key) {
      closeSync(fd)
      return this.loaded
    }
    if (this.loaded != null) closeSync(this.loaded.fd)
    const file = fileBuffer(fd, st.size)
    const tailLength = Math.min(st.size, 8)
    const tail = Buffer.from(file.slice(st.size - tailLength))
    const footer = tail.readUInt32LE(0)
    const meta = parquetMetadata(file.slice(Math.max(0, st.size - footer - 8)))
    let start = 0
    const groups = meta.row_groups.map((g) => {
      const n = Number(g.num_rows)
      const stats = g.columns[0]?.meta_data?.statistics
      const entry = {
        start,
        end: start + n,
        min: String(stats?.min_value ?? ''),
        max: String(stats?.max_value ?? ''),
      }
      start += n
      return entry
    })
    const kv: Record<string, unknown> = {}
    for (const { key: k, value } of meta.key_value_metadata ?? []) {
      if (k.startsWith('ipfs-kit.') && value != null) {
        try {
          kv[k.slice('ipfs-kit.'.length)] = JSON.parse(value)
        } catch {
          kv[k.slice('ipfs-kit.'.length)] = value
        }
      }
    }
    this.loaded = { key, fd, size: st.size, meta, groups, kv, rowGroups: new Map() }
    return this.loaded
  }

  private async rowGroup(l: Loaded, i: number): Promise<PinIndexRow[]> {
    const cached = l.rowGroups.get(i)
    if (cached != null) return cached
    const g = l.groups[i]!
    const rows = (await parquetReadObjects({
      file: fileBuffer(l.fd, l.size),
      metadata: l.meta,
      rowStart: g.start,
      rowEnd: g.end,
    })) as unknown as PinIndexRow[]
    if (l.rowGroups.size >= ROW_GROUP_CACHE) l.rowGroups.delete(l.rowGroups.keys().next().value!)
    l.rowGroups.set(i, rows)
    return rows
  }

  /** The backends the daemon last reported, with their health. */
  backends(): IndexedBackend[] {
    return (this.load().kv.backends as IndexedBackend[] | undefined) ?? []
  }

  /** Where a CID is pinned: backends with verified copies, ranked by health and latency. */
  async inspect(cidInput: string): Promise<InspectResult> {
    const cid = parseCid(cidInput).toString()
    const l = this.load()
    const rows: PinIndexRow[] = []
    // row groups are sorted by cid: find the first whose max >= cid, and read while min <= cid
    let lo = 0
    let hi = l.groups.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (l.groups[mid]!.max < cid) lo = mid + 1
      else hi = mid
    }
    for (let i = lo; i < l.groups.length && l.groups[i]!.min <= cid; i++) {
      const group = await this.rowGroup(l, i)
      for (const r of matching(group, cid)) rows.push(r)
    }
    const health = new Map(this.backends().map((b) => [b.name, b]))
    const replicas: Route[] = rows
      .filter((r) => r.backend != null)
      .map((r) => {
        const b = health.get(r.backend!)
        return {
          backend: r.backend!,
          state: r.state,
          verifiedAt: r.verified_at,
          status:
            b?.usable === false ? (b.state === 'running' ? b.status : b.state) : (b?.status ?? 'unknown'),
          latencyMs: b?.latencyMs ?? null,
          detail: r.detail ?? null,
        }
      })
    const routes = replicas.filter((r) => r.state === 'verified').sort(byHealth)
    const first = rows[0]
    return {
      cid,
      pinned: first != null,
      name: first?.name ?? null,
      size: first?.size == null ? null : Number(first.size),
      status: first?.status ?? null,
      routes,
      replicas,
    }
  }

  /** Where a new pin of `size` bytes would go under `policy` (the index's default when omitted), and why. */
  suggest(
    opts: { size?: number; replicas?: number; preferred?: string[]; excluded?: string[] } = {},
  ): SuggestResult {
    const policy = (this.load().kv.policy ?? {}) as {
      min_replicas?: number
      preferred?: string[]
      excluded?: string[]
    }
    const size = opts.size ?? 0
    const want = opts.replicas ?? policy.min_replicas ?? 1
    const preferred = opts.preferred ?? policy.preferred ?? []
    const excluded = opts.excluded ?? policy.excluded ?? []
    const rejected: SuggestResult['rejected'] = []
    const candidates: IndexedBackend[] = []
    for (const b of this.backends()) {
      if (excluded.includes(b.name)) rejected.push({ backend: b.name, reason: 'excluded by policy' })
      else if (!b.usable) rejected.push({ backend: b.name, reason: `not usable (${b.state}, ${b.status})` })
      else if (b.freeBytes != null && b.freeBytes < size) {
        rejected.push({ backend: b.name, reason: `only ${b.freeBytes} bytes free, needs ${size}` })
      } else candidates.push(b)
    }
    const rank = (n: string) => (preferred.includes(n) ? preferred.indexOf(n) : preferred.length)
    candidates.sort((a, b) => rank(a.name) - rank(b.name) || (b.freeBytes ?? 0) - (a.freeBytes ?? 0))
    const targets = candidates.slice(0, want).map((b) => ({
      backend: b.name,
      reason: `${preferred.includes(b.name) ? `preferred #${rank(b.name) + 1}, ` : ''}${b.status}, ${
        b.freeBytes == null ? 'free space unknown' : `${b.freeBytes} bytes free`
      }${b.latencyMs == null ? '' : `, probe ${b.latencyMs.toFixed(1)} ms`}`,
    }))
    for (const b of candidates.slice(want))
      rejected.push({ backend: b.name, reason: 'enough replicas on better candidates' })
    return { size, replicas: want, targets, rejected }
  }

  /** Pins and bytes per backend and replication health, from a scan of the index (cached per file). */
  async stats(): Promise<RouteStats> {
    const l = this.load()
    if (l.stats != null) return l.stats
    const rows = (await parquetReadObjects({
      file: fileBuffer(l.fd, l.size),
      metadata: l.meta,
      columns: ['cid', 'size', 'backend', 'state', 'status', 'min_replicas'],
    })) as unknown as PinIndexRow[]
    const policy = (l.kv.policy ?? {}) as { min_replicas?: number }
    const health = new Map(this.backends().map((b) => [b.name, b]))
    const per = new Map<string, BackendStats>()
    const byStatus: Record<string, number> = {}
    let pins = 0
    let bytes = 0
    let under = 0
    let verifiedForPin = 0
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!
      const newPin = i === 0 || rows[i - 1]!.cid !== r.cid
      if (newPin) {
        pins++
        byStatus[r.status] = (byStatus[r.status] ?? 0) + 1
        bytes += r.size == null ? 0 : Number(r.size)
        verifiedForPin = 0
      }
      if (r.backend != null) {
        let s = per.get(r.backend)
        if (s == null) {
          s = {
            backend: r.backend,
            pins: 0,
            verified: 0,
            bytes: 0,
            status: health.get(r.backend)?.status ?? 'unknown',
          }
          per.set(r.backend, s)
        }
        s.pins++
        if (r.state === 'verified') {
          s.verified++
          s.bytes += r.size == null ? 0 : Number(r.size)
          if (health.get(r.backend)?.usable !== false) verifiedForPin++
        }
      }
      const lastOfPin = i === rows.length - 1 || rows[i + 1]!.cid !== r.cid
      if (lastOfPin && verifiedForPin < (r.min_replicas ?? policy.min_replicas ?? 1)) under++
    }
    for (const b of this.backends()) {
      if (!per.has(b.name))
        per.set(b.name, { backend: b.name, pins: 0, verified: 0, bytes: 0, status: b.status })
    }
    l.stats = {
      pins,
      bytes,
      byStatus,
      backends: [...per.values()].sort((a, b) => a.backend.localeCompare(b.backend)),
      underReplicated: under,
      publishedAt: (l.kv.publishedAt as number | undefined) ?? null,
    }
    return l.stats
  }

  close(): void {
    if (this.loaded != null) closeSync(this.loaded.fd)
    this.loaded = undefined
  }
}

/** Rows of `cid` in a sorted row group (binary search, then the run of equal CIDs). */
function matching(rows: PinIndexRow[], cid: string): PinIndexRow[] {
  let lo = 0
  let hi = rows.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (rows[mid]!.cid < cid) lo = mid + 1
    else hi = mid
  }
  const out: PinIndexRow[] = []
  for (let i = lo; i < rows.length && rows[i]!.cid === cid; i++) out.push(rows[i]!)
  return out
}

const HEALTH_ORDER: Record<string, number> = { healthy: 0, degraded: 1, unknown: 2, unhealthy: 3, stopped: 4 }

function byHealth(a: Route, b: Route): number {
  return (
    (HEALTH_ORDER[a.status] ?? 5) - (HEALTH_ORDER[b.status] ?? 5) ||
    (a.latencyMs ?? Number.POSITIVE_INFINITY) - (b.latencyMs ?? Number.POSITIVE_INFINITY)
  )
}
