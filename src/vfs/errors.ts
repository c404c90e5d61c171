import { IpfsKitError } from '../errors.ts'

/** A VFS path that names nothing. */
export class VfsNotFoundError extends IpfsKitError {
  constructor(path: string) {
    super('ERR_NOT_FOUND', `${path}: no such file or directory in the VFS: check it with \`ipfs-kit vfs ls\``)
  }
}

/** A VFS entry that is in the way of a create, copy or move (HTTP 409). */
export class VfsExistsError extends IpfsKitError {
  constructor(path: string, hint = 'remove it first, or pick another name') {
    super('ERR_EXISTS', `${path} already exists: ${hint}`)
  }
}

/**
 * A VFS path that is not what the operation needs (a directory where a file is needed, ...): a
 * conflict with what is there now (HTTP 409), not a malformed request.
 */
export class VfsTypeError extends IpfsKitError {
  constructor(message: string) {
    super('ERR_VFS_TYPE', message)
  }
}
