import { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'

/** What the daemon tells `/events` subscribers (Server-Sent Events) and itself. */
export type DaemonEvent =
  | { type: 'health'; backend: string; status: string; previous: string; error?: string }
  | { type: 'backend'; backend: string; state: 'running' | 'stopped' }
  | { type: 'pin'; cid: string; action: 'added' | 'removed' | 'status'; status?: string }
  | { type: 'replica'; cid: string; backend: string; state: string; error?: string; detail?: string }
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

/** A client that lets this many bytes pile up unsent is too slow: it is dropped. */
export const SSE_MAX_BUFFERED_BYTES = 1024 * 1024

/**
 * The `/events` subscribers (Server-Sent Events): at most `max()` at once, and a client that falls
 * behind (its unsent bytes pass `maxBuffered`) is disconnected, so a stalled reader costs the
 * daemon a bounded buffer, never a growing one. It reconnects with Last-Event-ID if it wants.
 */
export class SseClients {
  private readonly bus: EventBus
  private readonly max: () => number
  private readonly maxBuffered: number
  private readonly open = new Set<ServerResponse>()
  /** Clients dropped for falling behind, since start. */
  dropped = 0

  constructor(bus: EventBus, max: () => number, maxBuffered = SSE_MAX_BUFFERED_BYTES) {
    this.bus = bus
    this.max = max
    this.maxBuffered = maxBuffered
  }

  get size(): number {
    return this.open.size
  }

  /** Whether one more client may connect now. */
  get full(): boolean {
    return this.open.size >= this.max()
  }

  /** Streams events to `res` until either side closes; call only when not `full`. */
  attach(req: IncomingMessage, res: ServerResponse, pingMs = 15_000): void {
    this.open.add(res)
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    })
    const send = (text: string) => {
      if (res.destroyed) return
      if (!res.write(text) && res.writableLength > this.maxBuffered) {
        this.dropped++
        res.destroy()
      }
    }
    send(': connected\n\n')
    const unsubscribe = this.bus.subscribe((event) =>
      send(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`),
    )
    const ping = setInterval(() => send(': ping\n\n'), pingMs)
    let closed = false
    const close = () => {
      if (closed) return
      closed = true
      clearInterval(ping)
      unsubscribe()
      this.open.delete(res)
    }
    req.on('close', close)
    res.on('close', close)
  }
}
