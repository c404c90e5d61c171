import { accessSync, chmodSync, constants, statSync } from 'node:fs'
import { join } from 'node:path'
import { RepoError } from '../errors.ts'

/** What the start-up permission check changed, for the log. */
export interface PermissionFix {
  path: string
  was: string
  now: string
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`

/**
 * Checked at daemon start, before anything else touches the data directory: it must be usable (else
 * one clear RepoError naming it), and it and the token file must be private to their owner. Too-open
 * modes are fixed (0700, 0600), not refused: a backup restore or a umask should not stop the daemon,
 * but the token must not stay readable by other users. Each fix is returned for the log.
 */
export function securePermissions(dataDir: string): PermissionFix[] {
  const fixes: PermissionFix[] = []
  try {
    accessSync(dataDir, constants.R_OK | constants.W_OK | constants.X_OK)
    if (!statSync(dataDir).isDirectory())
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message
    throw new RepoError(
      `data directory ${dataDir} is not usable (${code}): give its owner access (chmod 700 ${dataDir}) or pass --data-dir`,
      { cause: err },
    )
  }
  for (const [path, want] of [
    [dataDir, 0o700],
    [join(dataDir, 'api-token'), 0o600],
  ] as const) {
    let mode: number
    try {
      mode = statSync(path).mode & 0o777
    } catch {
      continue // the token file is made at first start, with mode 0600
    }
    if ((mode & 0o077) !== 0) {
      chmodSync(path, want)
      fixes.push({ path, was: octal(mode), now: octal(want) })
    }
  }
  return fixes
}
