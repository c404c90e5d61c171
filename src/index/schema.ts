/**
 * The pin index, `<data>/index/pins.parquet`: one row per (pin, backend), sorted by `cid` (then
 * `backend`), in row groups of ROW_GROUP_ROWS rows with full min/max statistics on every column,
 * so a reader finds one CID by reading only the row group whose cid range covers it.
 *
 * | column        | type            | meaning                                                         |
 * | ------------- | --------------- | --------------------------------------------------------------- |
 * | cid           | string          | the pinned root CID, as pinned (CIDv0 or CIDv1 text)             |
 * | name          | string, null    | the pin's name                                                  |
 * | size          | int64, null     | bytes of the whole DAG, once known                              |
 * | backend       | string, null    | the backend of this replica; null for a pin with no replica yet |
 * | state         | string          | replica state: copying, verified, failed, lost; or the pin's    |
 * |               |                 | status (queued, failed) on a row with no backend                |
 * | verified_at   | timestamp ms    | when this replica last passed verification                      |
 * | pinned_at     | timestamp ms    | when the pin was created                                        |
 * | status        | string          | the pin's status: queued, pinned, failed                        |
 * | min_replicas  | int32, null     | the pin's own policy (null: the configured default)             |
 * | max_replicas  | int32, null     |                                                                 |
 */
export const PIN_INDEX_COLUMNS = [
  'cid',
  'name',
  'size',
  'backend',
  'state',
  'verified_at',
  'pinned_at',
  'status',
  'min_replicas',
  'max_replicas',
] as const

/** Small row groups keep a point lookup cheap: a reader decodes one group of this many rows. */
export const ROW_GROUP_ROWS = 4096

/** One row as a reader sees it. */
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
}

export const PIN_INDEX_FILE = 'pins.parquet'
