/**
 * Read buffers reused across one stream's pack reads. Streaming a 256 MiB file reads it in spans of
 * up to a few MiB, each a fresh buffer: V8 counts them as external memory and, every ~64 MiB of
 * them, runs a full collection (6-8 per such download, measured with --trace-gc). A pool hands the
 * same few spans back instead.
 *
 * A span is reused only when every block view cut from it has been released: `take` gives it one
 * reference per view, `release(view)` drops one, and at zero the span is free again. A view never
 * released keeps its span out of the pool for good (it is collected as any buffer), so a consumer
 * that stops early or fails loses only the reuse, never the bytes of a view it still holds.
 */
export class SpanPool {
  private readonly free: Buffer[] = []
  private readonly refs = new Map<ArrayBufferLike, number>()
  /** Spans allocated so far (the rest of the takes were reuses). */
  allocated = 0

  /**
   * @param spanBytes the size of a pooled span; a longer read gets a buffer of its own
   * @param keep the most free spans kept (beyond that a released span is left to the collector)
   */
  constructor(
    readonly spanBytes: number,
    private readonly keep = 8,
  ) {}

  /** A buffer of at least `length` bytes holding `views` references, one per view cut from it. */
  take(length: number, views: number): Buffer {
    if (length > this.spanBytes || views < 1) return Buffer.allocUnsafe(length)
    // allocUnsafeSlow: a span owns its whole ArrayBuffer (Node's shared 8 KiB pool is never used)
    let span = this.free.pop()
    if (span == null) {
      span = Buffer.allocUnsafeSlow(this.spanBytes)
      this.allocated++
    }
    this.refs.set(span.buffer, views)
    return span
  }

  /** Forgets a span taken but not handed out (a read that failed): it is never reused. */
  discard(span: Uint8Array): void {
    this.refs.delete(span.buffer)
  }

  /** One view of a span is no longer used; a view of any other buffer is ignored. */
  release(view: Uint8Array): void {
    const n = this.refs.get(view.buffer)
    if (n == null) return
    if (n > 1) {
      this.refs.set(view.buffer, n - 1)
      return
    }
    this.refs.delete(view.buffer)
    if (this.free.length < this.keep) this.free.push(Buffer.from(view.buffer, 0, this.spanBytes))
  }

  /** Spans handed out and not yet wholly released. */
  get inUse(): number {
    return this.refs.size
  }
}
