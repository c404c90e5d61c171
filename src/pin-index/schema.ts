import type { BasicType } from 'hyparquet-writer'

/**
 * The pin index, `<data>/index/pins.parquet`: one row per (pin, backend), sorted by `cid` then
 * `backend` (byte order, as SQLite's `ORDER BY cid`), so that a reader finds one CID by reading
 * only the row group whose `cid` min/max statistics cover it. Row groups hold about
 * ROW_GROUP_ROWS rows and never split a pin, so one lookup decodes one group. Every column chunk
 * carries untruncated min/max statistics. Timestamps are milliseconds since the Unix epoch (UTC).
 *
 * | column        | type            | meaning                                                         |
 * | ------------- | --------------- | --------------------------------------------------------------- |
 * | cid           | string          | the pinned root CID, as pinned (CIDv0 or CIDv1 text)            |
 * | name          | string, null    | the pin's name                                                  |
 * | size          | int64, null     | bytes of the whole DAG, once known                              |
 * | backend       | string, null    | the backend of this replica; null for a pin with no replica yet |
 * |               |                 | (that pin still gets its one row, so every pin appears)         |
 * | state         | string          | replica state: copying, verified, failed, lost; or the pin's    |
 * |               |                 | status (queued, failed) on a row with no backend                |
 * | verified_at   | timestamp ms    | when this replica last passed verification; null if never       |
 * | pinned_at     | timestamp ms    | when the pin was created                                        |
 * | status        | string          | the pin's status: queued, pinned, failed                        |
 * | min_replicas  | int32, null     | the pin's own policy (null: the configured default)             |
 * | max_replicas  | int32, null     | the pin's own policy (null: the configured default)             |
 * | detail        | string, null    | what the backend says of the replica beyond its state, e.g. a   |
 * |               |                 | cluster's "degraded: pinned on 1 of 2 cluster peers"            |
 *
 * Key-value metadata: `ipfs-kit.schema` = `1`, plus what the daemon knows besides the pins as
 * JSON under `ipfs-kit.<key>` (`backends` with their last health, the default `policy`).
 */
export const PIN_INDEX_SCHEMA = [
  { name: 'cid', type: 'STRING', nullable: false },
  { name: 'name', type: 'STRING', nullable: true },
  { name: 'size', type: 'INT64', nullable: true },
  { name: 'backend', type: 'STRING', nullable: true },
  { name: 'state', type: 'STRING', nullable: false },
  { name: 'verified_at', type: 'TIMESTAMP', nullable: true },
  { name: 'pinned_at', type: 'TIMESTAMP', nullable: false },
  { name: 'status', type: 'STRING', nullable: false },
  { name: 'min_replicas', type: 'INT32', nullable: true },
  { name: 'max_replicas', type: 'INT32', nullable: true },
  { name: 'detail', type: 'STRING', nullable: true },
] as const satisfies readonly { name: string; type: BasicType; nullable: boolean }[]

export type PinIndexColumn = (typeof PIN_INDEX_SCHEMA)[number]['name']

/** The column names, in file order. */
export const PIN_INDEX_COLUMNS: readonly PinIndexColumn[] = PIN_INDEX_SCHEMA.map((c) => c.name)

/** Bumped when a column changes meaning; stored as `ipfs-kit.schema` in the file's metadata. */
export const PIN_INDEX_VERSION = 1

/** Small row groups keep a point lookup cheap: a reader decodes one group of about this many rows. */
export const ROW_GROUP_ROWS = 4096

/** One row as a reader (hyparquet) sees it. */
export interface PinIndexRow {
  cid: string
  name: string | null
  size: bigint | null
  backend: string | null
  state: string
  verified_at: Date | null
  pinned_at: Date
  status: string
  min_replicas: number | null
  max_replicas: number | null
  /** Absent in an index written before the column existed. */
  detail?: string | null
}

export const PIN_INDEX_FILE = 'pins.parquet'
