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
      done?: number
      pins: number
      copied?: number
      failed?: number
      ms?: number
    }
  | { type: 'index'; rows: number; ms: number }
  | {
      type: 'gc'
      phase: 'mark' | 'sweep' | 'reclaim' | 'finished' | 'failed'
      marked?: number
      removedBlocks: number
      removedBytes: number
      error?: string
    }

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
