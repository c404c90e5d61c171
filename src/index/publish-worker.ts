import { closeSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { parentPort } from 'node:worker_threads'
import Database from 'better-sqlite3'
import { parquetWriteFile } from 'hyparquet-writer'
import { fsyncDir } from '../fs-utils.ts'
import { PIN_INDEX_FILE, ROW_GROUP_ROWS } from './schema.ts'

interface Row {
  cid: string
  name: string | null
  size: number | null
  backend: string | null
  state: string | null
  verified_at: number | null
  created_at: number
  status: string
  min_replicas: number | null
  max_replicas: number | null
}

/** Runs in a worker thread: reads state.db read-only and writes the index atomically. */
function publish(
  dataDir: string,
  seq: number,
  context: Record<string, unknown>,
): { rows: number; pins: number; path: string } {
  const db = new Database(join(dataDir, 'state.db'), { readonly: true, fileMustExist: true })
  db.pragma('busy_timeout = 15000')
  const rows = db
    .prepare(
      `SELECT p.cid, p.name, p.size, r.backend, r.state, r.verified_at, p.created_at, p.status,
              p.min_replicas, p.max_replicas
       FROM pins p LEFT JOIN replicas r ON r.cid = p.cid
       ORDER BY p.cid, r.backend`,
    )
    .raw(false)
    .all() as Row[]
  db.close()
  const n = rows.length
  const col = <T>(f: (r: Row) => T): T[] => {
    const out = new Array<T>(n)
    for (let i = 0; i < n; i++) out[i] = f(rows[i]!)
    return out
  }
  let pins = 0
  for (let i = 0; i < n; i++) if (i === 0 || rows[i]!.cid !== rows[i - 1]!.cid) pins++
  const dir = join(dataDir, 'index')
  const path = join(dir, PIN_INDEX_FILE)
  const tmp = join(dir, `.${PIN_INDEX_FILE}.tmp-${process.pid}-${seq}`)
  try {
    parquetWriteFile({
      filename: tmp,
      rowGroupSize: ROW_GROUP_ROWS,
      statisticsTruncateLength: Number.POSITIVE_INFINITY,
      kvMetadata: [
        { key: 'ipfs-kit.schema', value: '1' },
        // backend health and the default policy, so a RouteReader can rank and place without the daemon
        ...Object.entries(context).map(([k, v]) => ({ key: `ipfs-kit.${k}`, value: JSON.stringify(v) })),
      ],
      columnData: [
        { name: 'cid', data: col((r) => r.cid), type: 'STRING', nullable: false },
        { name: 'name', data: col((r) => r.name), type: 'STRING' },
        { name: 'size', data: col((r) => (r.size == null ? null : BigInt(r.size))), type: 'INT64' },
        { name: 'backend', data: col((r) => r.backend), type: 'STRING' },
        { name: 'state', data: col((r) => r.state ?? r.status), type: 'STRING', nullable: false },
        {
          name: 'verified_at',
          data: col((r) => (r.verified_at == null ? null : new Date(r.verified_at))),
          type: 'TIMESTAMP',
        },
        { name: 'pinned_at', data: col((r) => new Date(r.created_at)), type: 'TIMESTAMP', nullable: false },
        { name: 'status', data: col((r) => r.status), type: 'STRING', nullable: false },
        { name: 'min_replicas', data: col((r) => r.min_replicas), type: 'INT32' },
        { name: 'max_replicas', data: col((r) => r.max_replicas), type: 'INT32' },
      ],
    })
    const fd = openSync(tmp, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
    fsyncDir(dir)
  } catch (err) {
    rmSync(tmp, { force: true })
    throw err
  }
  return { rows: n, pins, path }
}

parentPort?.on('message', (msg: { dataDir: string; seq: number; context: Record<string, unknown> }) => {
  const started = performance.now()
  try {
    const r = publish(msg.dataDir, msg.seq, msg.context)
    parentPort?.postMessage({ ok: true, ...r, ms: performance.now() - started })
  } catch (err) {
    parentPort?.postMessage({ ok: false, error: (err as Error).message })
  }
})
