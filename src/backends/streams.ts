/** A source that ends with the signal's AbortError as soon as `signal` aborts (checked per chunk). */
export async function* abortable<T>(source: AsyncIterable<T>, signal?: AbortSignal): AsyncIterable<T> {
  signal?.throwIfAborted()
  for await (const chunk of source) {
    signal?.throwIfAborted()
    yield chunk
  }
}

/** The answer to `postStream`: status, headers and the whole (small) body as text. */
export interface PostedAnswer {
  status: number
  ok: boolean
  headers: import('node:http').IncomingHttpHeaders
  text: string
}

/**
 * POSTs a streamed body with backpressure: the next chunk is taken from `body` only when the socket
 * has taken the last one, so memory stays bounded whatever the size (fetch with a ReadableStream body
 * drains its source as fast as it can: 614 MiB resident for a 512 MiB CAR into Kubo, measured).
 * For RPCs whose answer is small (Kubo's dag import, IPFS Cluster's add): the answer is read whole.
 */
export async function postStream(
  url: string,
  headers: Record<string, string>,
  body: AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
): Promise<PostedAnswer> {
  const { request } = url.startsWith('https:') ? await import('node:https') : await import('node:http')
  const { Readable } = await import('node:stream')
  const { pipeline } = await import('node:stream/promises')
  return new Promise<PostedAnswer>((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      headers: { ...headers, 'transfer-encoding': 'chunked' },
      signal,
    })
    req.once('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.once('error', reject)
      res.once('end', () => {
        const status = res.statusCode ?? 0
        resolve({
          status,
          ok: status >= 200 && status < 300,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        })
      })
    })
    req.once('error', reject)
    pipeline(Readable.from(body, { objectMode: false }), req).catch((err: Error) => {
      req.destroy(err)
      reject(err)
    })
  })
}

/**
 * A CAR as the one file of a multipart/form-data body (Kubo's `dag import`, IPFS Cluster's `/add`):
 * the content type to send and the body, streamed from `car` (ends with an AbortError on `signal`).
 */
export function carMultipart(
  root: { toString(): string },
  car: AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
): { contentType: string; body: AsyncIterable<Uint8Array> } {
  const boundary = `ipfs-kit-${crypto.randomUUID()}`
  const enc = new TextEncoder()
  async function* body(): AsyncGenerator<Uint8Array> {
    yield enc.encode(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${root}.car"\r\n` +
        'Content-Type: application/vnd.ipld.car\r\n\r\n',
    )
    yield* abortable(car, signal)
    yield enc.encode(`\r\n--${boundary}--\r\n`)
  }
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: body() }
}
