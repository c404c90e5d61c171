// Node 20 lacks Promise.withResolvers, which helia needs: load the polyfill before anything else.
import './polyfills.ts'

// The library's public surface. Content commands use these directly; no daemon is involved.
export { BlockWriter, PackStore, verifyAll } from './blockstore/pack-store.ts'
export { type DaemonAccess, withDaemon } from './client/compose.ts'
export {
  DaemonApiError,
  DaemonClient,
  type DaemonClientOptions,
  DaemonUnavailableError,
} from './client/daemon-client.ts'
export {
  type InspectResult,
  RouteReader,
  type RouteStats,
  type SuggestResult,
} from './client/route-reader.ts'
export { type Config, loadConfig, resolveDataDir } from './config/config.ts'
export { type AddedEntry, type AddOptions, add } from './content/add.ts'
export { exportCar, importCar } from './content/car.ts'
export { parseCid, parseIpfsPath } from './content/cid.ts'
export { type CidOptions, kuboImporterOptions } from './content/cid-options.ts'
export { cat, get, ls, stat } from './content/export.ts'
export { gc } from './content/gc.ts'
export { openReader } from './content/reader.ts'
export * from './errors.ts'
export { startNode } from './node/embedded.ts'
export { Repo } from './repo.ts'
