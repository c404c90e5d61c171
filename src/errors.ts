/**
 * Every error a user can see carries a stable `code` and a message that says what to do next.
 * The CLI prints `Error: <message>` and exits non-zero; the HTTP layer maps codes to status codes.
 */
export class IpfsKitError extends Error {
  readonly code: string
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** Input that failed validation where it entered (a CID, path, size, flag or config value). */
export class InvalidInputError extends IpfsKitError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_INVALID_INPUT', message, options)
  }
}

/** A CID string that does not parse. */
export class InvalidCidError extends IpfsKitError {
  constructor(input: string, options?: ErrorOptions) {
    super(
      'ERR_INVALID_CID',
      `invalid CID "${truncate(input)}": expected a CIDv0 (Qm...) or CIDv1 (bafy...)`,
      options,
    )
  }
}

/** A block that is not in the local blockstore (and was not fetched from a peer). */
export class BlockNotFoundError extends IpfsKitError {
  constructor(cid: string, hint = 'add it first, or fetch it from a peer with --peer <multiaddr>') {
    super('ERR_NOT_FOUND', `block ${cid} is not stored locally: ${hint}`)
  }
}

/** A name that is not in the directory a path walks through (`<cid>/a/b`). */
export class PathNotFoundError extends IpfsKitError {
  constructor(message: string) {
    super('ERR_NOT_FOUND', `no such path: ${message}`)
  }
}

/** A stored block whose bytes no longer hash to its CID; it is never served. */
export class BlockCorruptError extends IpfsKitError {
  constructor(cid: string, where: string) {
    super(
      'ERR_BLOCK_CORRUPT',
      `block ${cid} is corrupt on disk (${where}): run \`ipfs-kit repo verify\` and re-add or re-fetch it`,
    )
  }
}

/** A fetch from the network that did not finish in time. */
export class FetchTimeoutError extends IpfsKitError {
  constructor(cid: string, ms: number) {
    super(
      'ERR_TIMEOUT',
      `timed out after ${ms} ms fetching ${cid}: no connected peer sent it (check --peer, or raise --timeout)`,
    )
  }
}

/** A file or directory on disk that cannot be used as asked. */
export class PathError extends IpfsKitError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_PATH', message, options)
  }
}

/** A CAR file that is truncated, malformed, or holds a block that does not match its CID. */
export class InvalidCarError extends IpfsKitError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_INVALID_CAR', message, options)
  }
}

/** The data directory cannot be opened, created or written. */
export class RepoError extends IpfsKitError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_REPO', message, options)
  }
}

/** Another process holds something this operation needs exclusively. */
export class BusyError extends IpfsKitError {
  constructor(message: string) {
    super('ERR_BUSY', message)
  }
}

/** The user stopped the operation (Ctrl-C, SIGTERM); whatever it was writing was removed. */
export class InterruptedError extends IpfsKitError {
  constructor(message = 'interrupted: nothing was written') {
    super('ERR_INTERRUPTED', message)
  }
}

/** A server-side limit on concurrent clients is reached: close one or raise the limit. */
export class TooManyClientsError extends IpfsKitError {
  constructor(message: string) {
    super('ERR_TOO_MANY_CLIENTS', message)
  }
}

/** A native addon (better-sqlite3) that is missing or was built for another Node.js version. */
export class NativeAddonError extends IpfsKitError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_NATIVE_ADDON', message, options)
  }
}

/** A storage backend (Kubo, a cluster, S3, a pinning service) refused or failed a call; the message names it. */
export class BackendError extends IpfsKitError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_BACKEND', message, options)
  }
}

/** A request carries (or would make the server write) more bytes than its configured limit. */
export class PayloadTooLargeError extends IpfsKitError {
  constructor(message: string) {
    super('ERR_PAYLOAD_TOO_LARGE', message)
  }
}

/** The disk holding the data (or a backend's directory) is full: nothing was added or changed. */
export class NoSpaceError extends IpfsKitError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_NO_SPACE', message, options)
  }
}

/**
 * A full disk as one error that says what to do: SQLite's SQLITE_FULL and the OS's ENOSPC (here or
 * in a cause) become NoSpaceError; anything else is returned as it is.
 */
export function explainNoSpace(err: unknown): unknown {
  for (
    let e = err as { code?: unknown; path?: unknown; cause?: unknown } | undefined, depth = 0;
    e != null && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (e.code === 'SQLITE_FULL' || e.code === 'ENOSPC') {
      const where = typeof e.path === 'string' ? ` (writing ${e.path})` : ''
      return new NoSpaceError(
        `no space left on the disk${where}: free some space and try again; nothing was added or changed`,
        { cause: err },
      )
    }
  }
  return err
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}
