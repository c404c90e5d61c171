import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import { describe, it } from 'node:test'
import { setImmediate as tick } from 'node:timers/promises'
import { EventBus, SSE_MAX_BUFFERED_BYTES, SseClients } from './events.ts'

const MiB = 1 << 20

/** An HTTP server on loopback whose every request becomes an event stream of `clients`. */
async function serve(clients: SseClients): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => clients.attach(req, res))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address == null || typeof address === 'string') throw new Error('no port')
  return { server, port: address.port }
}

/** A raw client that asks for the stream; it reads only if `reading`. */
async function subscriber(port: number, reading: boolean): Promise<{ socket: Socket; bytes: () => number }> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  let bytes = 0
  if (reading) socket.on('data', (d: Buffer) => (bytes += d.length))
  else socket.pause()
  socket.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
  return { socket, bytes: () => bytes }
}

describe('SSE clients', () => {
  it('drops a client that stops reading, keeps one that reads, and the server does not grow', async () => {
    const bus = new EventBus()
    const clients = new SseClients(bus, () => 10)
    const { server, port } = await serve(clients)
    const stalled = await subscriber(port, false)
    const reader = await subscriber(port, true)
    while (clients.size < 2) await tick()
    const error = 'e'.repeat(4096)
    const rssBefore = process.memoryUsage().rss
    let emitted = 0
    // 256 MiB of events in all, a burst of 64 KiB per turn of the event loop
    while (emitted < 256 * MiB) {
      for (let i = 0; i < 16; i++) {
        bus.emit({ type: 'replica', cid: 'bafy', backend: 'nas', state: 'failed', error })
        emitted += error.length
      }
      await tick()
    }
    const growth = process.memoryUsage().rss - rssBefore
    assert.equal(clients.dropped, 1, 'only the client that stopped reading is dropped')
    assert.equal(clients.size, 1)
    assert.ok(reader.bytes() > 200 * MiB, `the reading client got ${reader.bytes()} bytes`)
    // without the bound the stalled client's 256 MiB would sit in the server's memory
    assert.ok(growth < 64 * MiB, `the server grew by ${(growth / MiB).toFixed(0)} MiB`)
    assert.ok(SSE_MAX_BUFFERED_BYTES <= 4 * MiB)
    // the dropped client sees its stream end once it reads again
    const ended = once(stalled.socket, 'close')
    stalled.socket.resume()
    await ended
    reader.socket.destroy()
    while (clients.size > 0) await tick()
    server.close()
  })

  it('counts clients against the cap and frees a place when one leaves', async () => {
    const bus = new EventBus()
    const clients = new SseClients(bus, () => 1)
    const { server, port } = await serve(clients)
    assert.equal(clients.full, false)
    const one = await subscriber(port, true)
    while (clients.size < 1) await tick()
    assert.equal(clients.full, true)
    one.socket.destroy()
    while (clients.size > 0) await tick()
    assert.equal(clients.full, false)
    server.close()
  })
})
