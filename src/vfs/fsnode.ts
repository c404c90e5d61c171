import { InvalidInputError } from '../errors.ts'

/** UnixFS Data types, as numbered in unixfs.proto. */
export enum FsType {
  Raw = 0,
  Directory = 1,
  File = 2,
  Metadata = 3,
  Symlink = 4,
  HAMTShard = 5,
}

/**
 * The UnixFS `Data` message with Go's (boxo `ft.FSNode`) exact semantics, so that a node we write
 * serialises to the bytes Kubo's MFS writes: a field is present only when Go sets it (an empty
 * `Data` set by a truncate is present; a never-set filesize is absent), blocksizes unpacked.
 * Fields 5-8 (hashType, fanout, mode, mtime) are kept as raw bytes and written back unchanged.
 */
export class FsNode {
  type: FsType
  data: Uint8Array | undefined
  filesize: bigint | undefined
  blocksizes: bigint[]
  /** Encoded fields 5 and above, in order. */
  private tail: Uint8Array

  constructor(
    type: FsType,
    data?: Uint8Array,
    filesize?: bigint,
    blocksizes: bigint[] = [],
    tail?: Uint8Array,
  ) {
    this.type = type
    this.data = data
    this.filesize = filesize
    this.blocksizes = blocksizes
    this.tail = tail ?? new Uint8Array(0)
  }

  /** True when mode or mtime is set (MFS keeps such a node as dag-pb). */
  hasMetadata(): boolean {
    return readFields(this.tail).some((f) => f.field === 7 || f.field === 8)
  }

  /** Go's `ft.NewFSNode`: a node of this type whose filesize is set (to 0). */
  static create(type: FsType): FsNode {
    return new FsNode(type, undefined, 0n)
  }

  /** Go's `FSNode.FileSize()`: the filesize field of files, the data's length of symlinks. */
  fileSize(): bigint {
    if (this.type === FsType.File || this.type === FsType.Raw) return this.filesize ?? 0n
    return BigInt(this.data?.length ?? 0)
  }

  addBlockSize(size: bigint): void {
    this.filesize = (this.filesize ?? 0n) + size
    this.blocksizes.push(size)
  }

  removeBlockSize(index: number): void {
    this.filesize = (this.filesize ?? 0n) - this.blocksizes[index]!
    this.blocksizes.splice(index, 1)
  }

  removeAllBlockSizes(): void {
    this.blocksizes = []
    this.filesize = BigInt(this.data?.length ?? 0)
  }

  setData(data: Uint8Array): void {
    this.filesize = (this.filesize ?? 0n) + BigInt(data.length - (this.data?.length ?? 0))
    this.data = data
  }

  encode(): Uint8Array {
    const out: number[] = []
    out.push(0x08)
    varint(out, BigInt(this.type))
    if (this.data != null) {
      out.push(0x12)
      varint(out, BigInt(this.data.length))
    }
    const head = Uint8Array.from(out)
    const rest: number[] = []
    if (this.filesize != null) {
      rest.push(0x18)
      varint(rest, this.filesize)
    }
    for (const b of this.blocksizes) {
      rest.push(0x20)
      varint(rest, b)
    }
    const parts = [head, this.data ?? new Uint8Array(0), Uint8Array.from(rest), this.tail]
    return Buffer.concat(parts)
  }

  static decode(bytes: Uint8Array): FsNode {
    let type: FsType | undefined
    let data: Uint8Array | undefined
    let filesize: bigint | undefined
    const blocksizes: bigint[] = []
    const tail: Uint8Array[] = []
    for (const f of readFields(bytes)) {
      if (f.field === 1) type = Number(f.value) as FsType
      else if (f.field === 2) data = f.bytes
      else if (f.field === 3) filesize = f.value
      else if (f.field === 4) {
        if (f.bytes != null) blocksizes.push(...packed(f.bytes))
        else blocksizes.push(f.value!)
      } else tail.push(f.raw)
    }
    if (type == null) throw new InvalidInputError('invalid UnixFS node: it has no type')
    return new FsNode(type, data, filesize, blocksizes, Buffer.concat(tail))
  }
}

/** Bytes of an empty file as MFS creates it (`ft.FilePBData(nil, 0)`). */
export function emptyFileData(): Uint8Array {
  return new FsNode(FsType.File, undefined, 0n).encode()
}

/** Bytes of an empty directory (`ft.FolderPBData()`). */
export const DIRECTORY_DATA = Uint8Array.of(0x08, 0x01)

function varint(out: number[], value: bigint): void {
  let v = value
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80)
    v >>= 7n
  }
  out.push(Number(v))
}

interface Field {
  field: number
  value?: bigint
  bytes?: Uint8Array
  raw: Uint8Array
}

function readVarint(bytes: Uint8Array, pos: { i: number }): bigint {
  let result = 0n
  let shift = 0n
  for (;;) {
    if (pos.i >= bytes.length) throw new InvalidInputError('invalid UnixFS node: truncated varint')
    const b = bytes[pos.i++]!
    result |= BigInt(b & 0x7f) << shift
    if ((b & 0x80) === 0) return result
    shift += 7n
    if (shift > 63n) throw new InvalidInputError('invalid UnixFS node: varint too long')
  }
}

function readFields(bytes: Uint8Array): Field[] {
  const fields: Field[] = []
  const pos = { i: 0 }
  while (pos.i < bytes.length) {
    const start = pos.i
    const key = Number(readVarint(bytes, pos))
    const field = key >> 3
    const wire = key & 7
    if (wire === 0) {
      const value = readVarint(bytes, pos)
      fields.push({ field, value, raw: bytes.subarray(start, pos.i) })
    } else if (wire === 2) {
      const len = Number(readVarint(bytes, pos))
      if (pos.i + len > bytes.length) throw new InvalidInputError('invalid UnixFS node: truncated field')
      const value = bytes.subarray(pos.i, pos.i + len)
      pos.i += len
      fields.push({ field, bytes: value, raw: bytes.subarray(start, pos.i) })
    } else if (wire === 1 || wire === 5) {
      pos.i += wire === 1 ? 8 : 4
      fields.push({ field, raw: bytes.subarray(start, pos.i) })
    } else {
      throw new InvalidInputError(`invalid UnixFS node: unsupported wire type ${wire}`)
    }
  }
  return fields
}

function packed(bytes: Uint8Array): bigint[] {
  const out: bigint[] = []
  const pos = { i: 0 }
  while (pos.i < bytes.length) out.push(readVarint(bytes, pos))
  return out
}
