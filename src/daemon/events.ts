import { EventEmitter } from 'node:events'

/** What the daemon tells `/events` subscribers (Server-Sent Events) and itself. */
export type DaemonEvent =
  | { type: 'health'; backend: string; status: string; previous: string; error?: string }
  | { type: 'backend'; backend: string; state: 'running' | 'stopped' }
  | { type: 'pin'; cid: string; action: 'added' | 'removed' | 'status'; status?: string }
  | { type: 'replica'; cid: string; backend: string; state: string; error?: string }
  | {
      type: 'replication'
      phase: 'started' | 'progress' | 'finished'
      /** The pass id (as `POST /replication/sync` answers it). */
      pass?: number
      done?: number
      pins: number
      copied?: number
      verified?: number
      failed?: number
      removed?: number
      swept?: number
      ms?: number
    }
  | { type: 'sweep'; backend: string; removed: number; bytes: number; names: string[] }
  | { type: 'index'; rows: number; ms: number }

/** A typed in-process event bus. */
export class EventBus {
  private readonly emitter = new EventEmitter()
  private seq = 0

  constructor() {
    this.emitter.setMaxListeners(0)
  }

  emit(event: DaemonEvent): void {
    this.emitter.emit('event', { id: ++this.seq, at: Date.now(), ...event })
  }

  subscribe(fn: (event: DaemonEvent & { id: number; at: number }) => void): () => void {
    this.emitter.on('event', fn)
    return () => this.emitter.off('event', fn)
  }
}
