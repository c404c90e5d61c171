import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { dirname } from 'node:path'

/** The system calls that make data durable (or show it leaving the process), as `strace -f -y -yy` prints them. */
export const TRACED =
  'fsync,fdatasync,rename,renameat,renameat2,pwrite64,pwritev,pwritev2,write,writev,openat,read'

/** strace's arguments for tracing a command into `out`. */
export function straceArgs(out: string): string[] {
  return ['-f', '-y', '-yy', '-s', '48', '-e', `trace=${TRACED}`, '-e', 'signal=none', '-o', out]
}

/** Fails (never skips) when strace cannot trace here: scripts/install-test-tools.sh installs it. */
export function requireStrace(): void {
  const r = spawnSync('strace', ['-f', '-e', 'trace=fsync', '-o', '/dev/null', 'true'])
  assert.equal(
    r.status,
    0,
    `strace is needed to check durability order: run scripts/install-test-tools.sh (${r.error?.message ?? r.stderr?.toString()})`,
  )
}

/** One completed system call. */
export interface Syscall {
  /** Position in the trace, in order of completion. */
  seq: number
  call: string
  /** The file (or socket, `TCP:[...]`, or pipe) the call acted on; for renames, the source. */
  path: string
  /** The file descriptor, for calls that take one. */
  fd?: number
  /** The rename target. */
  to?: string
  /** The start of the data written or read, as strace prints it. */
  data: string
  flags: string
}

const WRITES = new Set(['write', 'writev', 'pwrite64', 'pwritev', 'pwritev2'])
const SYNCS = new Set(['fsync', 'fdatasync'])
const RENAMES = new Set(['rename', 'renameat', 'renameat2'])

/** Parses `strace -f -y -yy` output; a call split by `<unfinished ...>` counts where it completed. */
export function parseStrace(text: string): Syscall[] {
  const pending = new Map<string, string>()
  const out: Syscall[] = []
  for (const raw of text.split('\n')) {
    const m = /^(\d+) +(.*)$/.exec(raw)
    if (m == null) continue
    const [, pid, rest] = m as unknown as [string, string, string]
    let line = rest
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(rest)
    if (resumed != null) {
      const start = pending.get(pid)
      pending.delete(pid)
      if (start == null) continue
      line = start + resumed[2]
    } else if (rest.endsWith('<unfinished ...>')) {
      pending.set(pid, rest.slice(0, -'<unfinished ...>'.length))
      continue
    }
    const call = /^(\w+)\((.*)$/.exec(line)
    if (call == null) continue
    const [, name, args] = call as unknown as [string, string, string]
    if (/\) += -1 /.test(args)) continue // failed calls did nothing
    const syscall: Syscall = { seq: out.length, call: name, path: '', data: '', flags: '' }
    if (RENAMES.has(name)) {
      const names = [...args.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]!)
      syscall.path = names[0] ?? ''
      syscall.to = names[1] ?? ''
    } else if (name === 'openat') {
      syscall.path = /"((?:[^"\\]|\\.)*)"/.exec(args)?.[1] ?? ''
      syscall.flags = /", ([A-Z_|]+)/.exec(args)?.[1] ?? ''
    } else {
      const fd = /^(\d+)<(.*?)>(?:, |\s*\))/.exec(args)
      if (fd == null) continue
      syscall.fd = Number(fd[1])
      syscall.path = fd[2]!
      syscall.data = /"((?:[^"\\]|\\.)*)"/.exec(args.slice(fd[0].length))?.[1] ?? ''
    }
    out.push(syscall)
  }
  return out
}

const isWrite = (s: Syscall, path: string) => WRITES.has(s.call) && s.path === path
const isSync = (s: Syscall, path: string) => SYNCS.has(s.call) && s.path === path

/**
 * Checks that what was committed before the acknowledgement at `ack` is on disk:
 * - every `durable` file written, other than a temp file still in flight, is fsynced (or
 *   fdatasynced) after its last write; SQLite's WAL counts here, as better-sqlite3 commits each
 *   transaction synchronously, so none is half done when an answer is sent;
 * - a temp file renamed into place is fsynced before the rename, and its directory after it;
 * - a file created with O_EXCL and kept (a pack) has its directory fsynced after the creation.
 * Temp files (`.tmp-` in the name) not yet renamed are work in flight, not acknowledged.
 * Returns the violations (empty when all is well), each naming the file and the rule.
 */
export function durabilityViolations(
  calls: readonly Syscall[],
  ack: number,
  durable: (path: string) => boolean,
): string[] {
  const before = calls.slice(0, ack)
  const problems: string[] = []
  const renames = before.filter((s) => RENAMES.has(s.call))
  const renamedAway = new Set(renames.map((s) => s.path))
  const inFlight = (path: string) => /\.tmp-/.test(path) && !renamedAway.has(path)
  const written = new Set(before.filter((s) => WRITES.has(s.call) && durable(s.path)).map((s) => s.path))
  for (const path of written) {
    if (inFlight(path)) continue
    const lastWrite = before.findLast((s) => isWrite(s, path))!.seq
    const rename = renames.find((s) => s.path === path && s.seq > lastWrite)
    const until = rename?.seq ?? ack
    if (!before.some((s) => isSync(s, path) && s.seq > lastWrite && s.seq < until))
      problems.push(
        `${path}: written at #${lastWrite}, not fsynced before ${rename ? 'its rename' : 'the ack'}`,
      )
  }
  for (const r of renames.filter((s) => durable(s.to ?? ''))) {
    const dir = dirname(r.to!)
    if (!before.some((s) => isSync(s, dir) && s.seq > r.seq))
      problems.push(`rename to ${r.to} at #${r.seq}: directory ${dir} not fsynced after it`)
  }
  for (const c of before.filter(
    (s) => s.call === 'openat' && s.flags.includes('O_EXCL') && durable(s.path),
  )) {
    if (/\.tmp-/.test(c.path)) continue // a temp file: its rename is checked above
    const dir = dirname(c.path)
    if (!before.some((s) => isSync(s, dir) && s.seq > c.seq))
      problems.push(`${c.path} created at #${c.seq}: directory ${dir} not fsynced after it`)
  }
  return problems
}

/** The position of the last call matching `pred` before `until` (throws, naming `what`, when there is none). */
export function lastBefore(
  calls: readonly Syscall[],
  until: number,
  what: string,
  pred: (s: Syscall) => boolean,
): number {
  const found = calls.slice(0, until).findLast(pred)
  assert.ok(found != null, `no ${what} before #${until}`)
  return found.seq
}

export const syncOf = (path: string | RegExp) => (s: Syscall) =>
  SYNCS.has(s.call) && (typeof path === 'string' ? s.path === path : path.test(s.path))
export const writeOf = (path: string | RegExp) => (s: Syscall) =>
  WRITES.has(s.call) && (typeof path === 'string' ? s.path === path : path.test(s.path))
