import type { VfsEntry, VfsStat } from '../vfs/index.ts'

/** A VFS entry as the REST API and the MCP tools answer it (snake_case, CIDs as strings). */
export function entryJson(e: VfsEntry) {
  return { name: e.name, type: e.type, size: e.size, cid: e.cid.toString() }
}

/** `vfs stat` as the REST API and the MCP tools answer it. */
export function statJson(s: VfsStat) {
  return {
    path: s.path,
    cid: s.cid.toString(),
    type: s.type,
    size: s.size,
    cumulative_size: s.cumulativeSize,
    blocks: s.blocks,
  }
}
