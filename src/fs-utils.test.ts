import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'
import { pidAlive } from './fs-utils.ts'

const exec = promisify(execFile)

describe('pidAlive', () => {
  it('is true for this process and a running one, false once it has exited', async () => {
    assert.equal(pidAlive(process.pid), true)
    const sleeper = exec('sleep', ['0.5'])
    const pid = sleeper.child.pid!
    assert.equal(pidAlive(pid), true)
    await sleeper
    assert.equal(pidAlive(pid), false)
  })

  it('takes a zombie for dead: it has exited and holds nothing, though signal 0 still reaches it', async () => {
    const sh = exec('sh', ['-c', 'true & echo $!; exec sleep 2'])
    let out = ''
    sh.child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
    })
    while (!out.includes('\n')) await new Promise((r) => setTimeout(r, 20))
    const zombie = Number(out.trim())
    await new Promise((r) => setTimeout(r, 200)) // `true` has exited by now
    process.kill(zombie, 0) // does not throw: the pid still exists
    assert.equal(pidAlive(zombie), false)
    await sh
  })
})
