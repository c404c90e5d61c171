import { writeSync } from 'node:fs'
import { ByteWriter, type ColumnSource, ParquetWriter, schemaFromColumnData } from 'hyparquet-writer'
import type { PinBatch } from './read-pins.ts'
import { PIN_INDEX_SCHEMA, PIN_INDEX_VERSION } from './schema.ts'

const FLUSH_BYTES = 1 << 20

/** A parquet ByteWriter that streams to an open file descriptor, a megabyte at a time. */
class FdWriter extends ByteWriter {
  private readonly fd: number

  constructor(fd: number) {
    super(FLUSH_BYTES * 2)
    this.fd = fd
  }

  override ensure(size: number): void {
    if (this.index > FLUSH_BYTES) this.flushToFile()
    super.ensure(size)
  }

  override finish(): void {
    this.flushToFile()
  }

  private flushToFile(): void {
    const bytes = new Uint8Array(this.buffer, 0, this.index)
    for (let done = 0; done < bytes.length; ) done += writeSync(this.fd, bytes, done)
    this.index = 0
  }
}

const SCHEMA = schemaFromColumnData({
  columnData: PIN_INDEX_SCHEMA.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable, data: [] })),
})

/**
 * Writes the pin index to a file descriptor, one row group per PinBatch, in PIN_INDEX_SCHEMA
 * order with untruncated min/max statistics on every column chunk.
 */
export class PinIndexWriter {
  private readonly pq: ParquetWriter
  /** UTF-8 of each word code, encoded once: hyparquet-writer wants bytes or strings per value. */
  private readonly words: Uint8Array[] = []

  constructor(fd: number, context: Record<string, unknown>) {
    this.pq = new ParquetWriter({
      writer: new FdWriter(fd),
      schema: SCHEMA,
      // the default (16 bytes) cuts CIDs short, and a reader needs exact bounds to skip row groups
      statisticsTruncateLength: Number.POSITIVE_INFINITY,
      kvMetadata: [
        { key: 'ipfs-kit.schema', value: String(PIN_INDEX_VERSION) },
        ...Object.entries(context).map(([k, v]) => ({ key: `ipfs-kit.${k}`, value: JSON.stringify(v) })),
      ],
      createdBy: 'ipfs-kit',
    })
  }

  /** Appends one row group. */
  write(b: PinBatch): void {
    for (const w of b.newWords) this.words.push(Buffer.from(w))
    this.pq.write({ columnData: this.columns(b), rowGroupSize: b.rows })
    this.detachStatistics()
  }

  /** Writes the footer and flushes the last bytes (the caller fsyncs and closes). */
  finish(): void {
    void this.pq.finish()
  }

  private columns(b: PinBatch): ColumnSource[] {
    const n = b.rows
    const words = this.words
    const cid = new Array<Uint8Array>(n)
    const name = new Array<Uint8Array | null>(n)
    const size = new Array<bigint | null>(n)
    const backend = new Array<Uint8Array | null>(n)
    const state = new Array<Uint8Array>(n)
    const verifiedAt = new Array<bigint | null>(n)
    const pinnedAt = new Array<bigint>(n)
    const status = new Array<Uint8Array>(n)
    const minReplicas = new Array<number | null>(n)
    const maxReplicas = new Array<number | null>(n)
    const detail = new Array<Uint8Array | null>(n)
    const { buffer, byteOffset } = b.text
    let row = 0
    for (let p = 0; p < b.pins; p++) {
      // hyparquet-writer would TextEncoder.encode() every string, which costs more than the rest
      // of the write: hand it views into the UTF-8 the reader already produced
      const start = b.textIndex[p * 3]!
      const cidLength = b.textIndex[p * 3 + 1]!
      const nameLength = b.textIndex[p * 3 + 2]!
      const cidBytes = new Uint8Array(buffer, byteOffset + start, cidLength)
      const nameBytes =
        nameLength < 0 ? null : new Uint8Array(buffer, byteOffset + start + cidLength, nameLength)
      const sizeValue = b.pinNumbers[p * 4]!
      const pinSize = Number.isNaN(sizeValue) ? null : BigInt(sizeValue)
      const created = BigInt(b.pinNumbers[p * 4 + 1]!)
      const min = nullIfNaN(b.pinNumbers[p * 4 + 2]!)
      const max = nullIfNaN(b.pinNumbers[p * 4 + 3]!)
      const pinStatus = words[b.status[p]!]!
      for (let end = row + b.rowsPerPin[p]!; row < end; row++) {
        const backendCode = b.backend[row]!
        const verified = b.verifiedAt[row]!
        cid[row] = cidBytes
        name[row] = nameBytes
        size[row] = pinSize
        backend[row] = backendCode < 0 ? null : words[backendCode]!
        state[row] = words[b.state[row]!]!
        verifiedAt[row] = Number.isNaN(verified) ? null : BigInt(verified)
        pinnedAt[row] = created
        status[row] = pinStatus
        minReplicas[row] = min
        maxReplicas[row] = max
        const detailCode = b.detail[row]!
        detail[row] = detailCode < 0 ? null : words[detailCode]!
      }
    }
    return [
      // CIDs and names are (nearly) all distinct: skip the dictionary trial, which would be discarded
      { name: 'cid', data: cid, encoding: 'PLAIN' },
      { name: 'name', data: name, encoding: 'PLAIN' },
      { name: 'size', data: size },
      { name: 'backend', data: backend },
      { name: 'state', data: state },
      { name: 'verified_at', data: verifiedAt },
      { name: 'pinned_at', data: pinnedAt },
      { name: 'status', data: status },
      { name: 'min_replicas', data: minReplicas },
      { name: 'max_replicas', data: maxReplicas },
      { name: 'detail', data: detail },
    ]
  }

  /**
   * hyparquet-writer keeps each column chunk's min/max as the value objects it was given until it
   * writes the footer: copy them, or two small views would keep each batch's text alive.
   */
  private detachStatistics(): void {
    const group = this.pq.row_groups[this.pq.row_groups.length - 1]
    for (const c of group?.columns ?? []) {
      const s = c.meta_data?.statistics
      if (s?.min_value instanceof Uint8Array) s.min_value = s.min_value.slice()
      if (s?.max_value instanceof Uint8Array) s.max_value = s.max_value.slice()
    }
  }
}

function nullIfNaN(v: number): number | null {
  return Number.isNaN(v) ? null : v
}
