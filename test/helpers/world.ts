import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { CID } from 'multiformats/cid'
import { FilesystemBackend } from '../../src/backends/filesystem.ts'
import { LocalBackend } from '../../src/backends/local.ts'
import type { Backend, BackendContext } from '../../src/backends/types.ts'
import type { ReplicationPolicy } from '../../src/config/config.ts'
import { type DaemonEvent, EventBus } from '../../src/daemon/events.ts'
import { Reconciler } from '../../src/daemon/reconciler.ts'
import { Supervisor } from '../../src/daemon/supervisor.ts'
import { Repo } from '../../src/repo.ts'

/**
 * The daemon's replication parts in this process, on a real repo, real SQLite and real filesystem
 * backends: for tests that must step into the middle of a copy. `local` serves the blockstore without
 * starting the embedded libp2p node (nothing here talks to peers).
 */
export interface World {
  repo: Repo
  events: DaemonEvent[]
  supervisor: Supervisor
  reconciler: Reconciler
  dirs: Record<string, string>
  close(): Promise<void>
}

/** `local` without its libp2p node; `get` can be held mid-stream by a gate (a copy in flight). */
export class QuietLocal extends LocalBackend {
  gate: Promise<void> | undefined
  override async start(): Promise<void> {}
  override async stop(): Promise<void> {}
  override async *get(root: CID, opts: { signal?: AbortSignal } = {}): AsyncIterable<Uint8Array> {
    let first = true
    for await (const chunk of super.get(root, opts)) {
      yield chunk
      if (first && this.gate != null) await this.gate
      first = false
    }
  }
}

export async function openWorld(
  home: string,
  fsNames: string[],
  policy: Partial<ReplicationPolicy> = {},
  extra: Backend[] = [],
): Promise<World> {
  const repo = Repo.open(home)
  const ctx = (name: string): BackendContext => ({ dataDir: home, log: (line) => void [name, line] })
  const dirs: Record<string, string> = {}
  const backends: Backend[] = [new QuietLocal(repo, ctx('local'))]
  for (const name of fsNames) {
    dirs[name] = join(home, '..', `${name}-${Math.random().toString(36).slice(2, 8)}`)
    mkdirSync(dirs[name]!, { recursive: true })
    backends.push(new FilesystemBackend({ name, type: 'filesystem', path: dirs[name]! }, ctx(name)))
  }
  backends.push(...extra)
  const bus = new EventBus()
  const events: DaemonEvent[] = []
  bus.subscribe((e) => events.push(e))
  const supervisor = new Supervisor(repo.db, backends, bus, { probeTimeoutMs: 2_000 })
  const full: ReplicationPolicy = { min_replicas: 1, max_replicas: 3, preferred: [], excluded: [], ...policy }
  const reconciler = new Reconciler(
    repo,
    supervisor,
    bus,
    () => full,
    async () => {
      throw new Error('no peers in this test')
    },
  )
  await supervisor.startAll()
  await supervisor.probeAll()
  return {
    repo,
    events,
    supervisor,
    reconciler,
    dirs,
    async close() {
      await reconciler.drain()
      await supervisor.stopAll()
      await repo.close()
    },
  }
}
