import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { RepoError } from '../errors.ts'
import { fsyncDir } from '../fs-utils.ts'

/** The node's libp2p identity, kept in `<data>/identity.key` (mode 0600) so its peer ID is stable. */
export async function loadOrCreateIdentity(dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, 'identity.key')
  if (existsSync(path)) {
    try {
      return privateKeyFromProtobuf(readFileSync(path))
    } catch (err) {
      throw new RepoError(
        `${path} is not a valid libp2p private key: restore it or remove it to make a new identity`,
        {
          cause: err,
        },
      )
    }
  }
  const key = await generateKeyPair('Ed25519')
  const tmp = `${path}.tmp`
  writeFileSync(tmp, privateKeyToProtobuf(key), { mode: 0o600, flush: true })
  chmodSync(tmp, 0o600)
  renameSync(tmp, path)
  fsyncDir(dataDir)
  return key
}
