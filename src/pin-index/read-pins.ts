import type Database from 'better-sqlite3'

/**
 * One row group's worth of pins and their replicas, in typed arrays so that it moves from the
 * reader thread to the writer thread without copying. Rows are (pin, backend) pairs in cid then
 * backend order; a pin without replicas has one row with backend -1.
 */
export interface PinBatch {
  pins: number
  rows: number
  /** UTF-8 of each pin's cid, then its name. */
  text: Uint8Array
  /** Per pin: where its cid starts in `text`, the cid's length, the name's length (-1: no name). */
  textIndex: Int32Array
  /** Per pin: size, created_at, min_replicas, max_replicas (NaN: null). */
  pinNumbers: Float64Array
  /** Per pin: its status, as a word code. */
  status: Int32Array
  /** Per pin: how many rows it has (its replica count, or 1). */
  rowsPerPin: Int32Array
  /** Per row: the backend (a word code, -1: no replica yet). */
  backend: Int32Array
  /** Per row: the replica state, or the pin's status on a row without replica (a word code). */
  state: Int32Array
  /** Per row: verified_at (NaN: null). */
  verifiedAt: Float64Array
  /** Per row: the replica's detail (a word code, -1: none). */
  detail: Int32Array
  /** Words (backends, states, statuses) first seen in this batch; their codes follow the earlier ones. */
  newWords: string[]
}

/** Every ArrayBuffer a batch holds, to transfer rather than copy it. */
export function batchBuffers(b: PinBatch): ArrayBuffer[] {
  const all = [
    b.text,
    b.textIndex,
    b.pinNumbers,
    b.status,
    b.rowsPerPin,
    b.backend,
    b.state,
    b.verifiedAt,
    b.detail,
  ]
  return [...new Set(all.map((a) => a.buffer as ArrayBuffer))]
}

type PinRow = [
  cid: string,
  name: string | null,
  size: number | null,
  createdAt: number,
  status: string,
  minReplicas: number | null,
  maxReplicas: number | null,
]
type ReplicaRow = [
  cid: string,
  backend: string,
  state: string,
  verifiedAt: number | null,
  detail: string | null,
]

const orNaN = (v: number | null): number => (v == null ? Number.NaN : v)

/** Fills one PinBatch, growing its arrays as needed. */
class BatchBuilder {
  pins = 0
  rows = 0
  private pinCap: number
  private rowCap: number
  private textUsed = 0
  private text: Buffer
  private textIndex: Int32Array
  private pinNumbers: Float64Array
  private status: Int32Array
  private rowsPerPin: Int32Array
  private backend: Int32Array
  private state: Int32Array
  private verifiedAt: Float64Array
  private detail: Int32Array
  newWords: string[] = []

  constructor(rowsPerBatch: number) {
    this.pinCap = rowsPerBatch
    this.rowCap = rowsPerBatch + 64
    this.text = Buffer.allocUnsafeSlow(rowsPerBatch * 80)
    this.textIndex = new Int32Array(this.pinCap * 3)
    this.pinNumbers = new Float64Array(this.pinCap * 4)
    this.status = new Int32Array(this.pinCap)
    this.rowsPerPin = new Int32Array(this.pinCap)
    this.backend = new Int32Array(this.rowCap)
    this.state = new Int32Array(this.rowCap)
    this.verifiedAt = new Float64Array(this.rowCap)
    this.detail = new Int32Array(this.rowCap)
  }

  addPin(p: PinRow, status: number): void {
    if (this.pins === this.pinCap) this.growPins()
    const i = this.pins++
    const cidLength = this.putText(p[0])
    this.textIndex[i * 3] = this.textUsed - cidLength
    this.textIndex[i * 3 + 1] = cidLength
    this.textIndex[i * 3 + 2] = p[1] == null ? -1 : this.putText(p[1])
    this.pinNumbers[i * 4] = orNaN(p[2])
    this.pinNumbers[i * 4 + 1] = p[3]
    this.pinNumbers[i * 4 + 2] = orNaN(p[5])
    this.pinNumbers[i * 4 + 3] = orNaN(p[6])
    this.status[i] = status
    this.rowsPerPin[i] = 0
  }

  /** Adds a row to the last pin added. */
  addRow(backend: number, state: number, verifiedAt: number | null, detail = -1): void {
    if (this.rows === this.rowCap) this.growRows()
    const r = this.rows++
    this.detail[r] = detail
    this.backend[r] = backend
    this.state[r] = state
    this.verifiedAt[r] = orNaN(verifiedAt)
    this.rowsPerPin[this.pins - 1]!++
  }

  build(): PinBatch {
    return {
      pins: this.pins,
      rows: this.rows,
      text: new Uint8Array(this.text.buffer, this.text.byteOffset, this.textUsed),
      textIndex: this.textIndex.subarray(0, this.pins * 3),
      pinNumbers: this.pinNumbers.subarray(0, this.pins * 4),
      status: this.status.subarray(0, this.pins),
      rowsPerPin: this.rowsPerPin.subarray(0, this.pins),
      backend: this.backend.subarray(0, this.rows),
      state: this.state.subarray(0, this.rows),
      verifiedAt: this.verifiedAt.subarray(0, this.rows),
      detail: this.detail.subarray(0, this.rows),
      newWords: this.newWords,
    }
  }

  /** Writes `s` as UTF-8 after the text so far; returns its length in bytes. */
  private putText(s: string): number {
    // a UTF-16 code unit never takes more than 3 bytes of UTF-8
    if (this.textUsed + s.length * 3 > this.text.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(this.text.length * 2, this.textUsed + s.length * 3))
      this.text.copy(bigger, 0, 0, this.textUsed)
      this.text = bigger
    }
    const n = this.text.write(s, this.textUsed)
    this.textUsed += n
    return n
  }

  private growPins(): void {
    this.pinCap *= 2
    this.textIndex = grown(this.textIndex, this.pinCap * 3)
    this.pinNumbers = grown(this.pinNumbers, this.pinCap * 4)
    this.status = grown(this.status, this.pinCap)
    this.rowsPerPin = grown(this.rowsPerPin, this.pinCap)
  }

  private growRows(): void {
    this.rowCap *= 2
    this.backend = grown(this.backend, this.rowCap)
    this.state = grown(this.state, this.rowCap)
    this.verifiedAt = grown(this.verifiedAt, this.rowCap)
    this.detail = grown(this.detail, this.rowCap)
  }
}

function grown<T extends Int32Array | Float64Array>(a: T, length: number): T {
  const out = new (a.constructor as new (n: number) => T)(length)
  out.set(a)
  return out
}

/**
 * Reads every pin with its replicas from one snapshot of state.db, in cid order, and hands them
 * to `emit` in batches of at least `rowsPerBatch` rows that never split a pin (so that one lookup
 * reads one row group). `emit` may block; the batch's buffers are its to transfer.
 */
export function readPinBatches(
  db: Database.Database,
  rowsPerBatch: number,
  emit: (batch: PinBatch) => void,
): { pins: number; rows: number } {
  const words = new Map<string, number>()
  let batch = new BatchBuilder(rowsPerBatch)
  const word = (w: string): number => {
    let code = words.get(w)
    if (code == null) {
      code = words.size
      words.set(w, code)
      batch.newWords.push(w)
    }
    return code
  }
  let pins = 0
  let rows = 0
  const flush = () => {
    pins += batch.pins
    rows += batch.rows
    emit(batch.build())
    batch = new BatchBuilder(rowsPerBatch)
  }

  // Two ordered scans merged here rather than one LEFT JOIN, which SQLite would sort again in a
  // temporary b-tree. A read transaction keeps both scans on the same snapshot.
  db.exec('BEGIN')
  const pinRows = db
    .prepare('SELECT cid, name, size, created_at, status, min_replicas, max_replicas FROM pins ORDER BY cid')
    .raw(true)
    .iterate() as IterableIterator<PinRow>
  const replicaRows = db
    .prepare('SELECT cid, backend, state, verified_at, detail FROM replicas ORDER BY cid, backend')
    .raw(true)
    .iterate() as IterableIterator<ReplicaRow>
  try {
    let rep = replicaRows.next()
    for (const p of pinRows) {
      if (batch.rows >= rowsPerBatch) flush()
      const cid = p[0]
      // replicas go with their pin (foreign key, cascading delete); skip a stray one all the same.
      // CIDs are ASCII, so JS string order is SQLite's byte order here.
      while (!rep.done && rep.value[0] < cid) rep = replicaRows.next()
      const status = word(p[4])
      batch.addPin(p, status)
      if (rep.done || rep.value[0] !== cid) {
        // a pin with no replica yet still gets its row; its state is the pin's status
        batch.addRow(-1, status, null)
        continue
      }
      do {
        const detail = rep.value[4]
        batch.addRow(word(rep.value[1]), word(rep.value[2]), rep.value[3], detail == null ? -1 : word(detail))
        rep = replicaRows.next()
      } while (!rep.done && rep.value[0] === cid)
    }
  } finally {
    // statements still open would keep the transaction busy
    pinRows.return?.()
    replicaRows.return?.()
    db.exec('COMMIT')
  }
  if (batch.pins > 0) flush()
  return { pins, rows }
}
