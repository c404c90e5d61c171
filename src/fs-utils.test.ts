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
    // the background `sleep 0.3` exits after the shell has exec'd `sleep 3`, which never reaps it:
    // a zombie until `sleep 3` ends (a child that exited before the exec, the shell would reap)
    const sh = exec('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 3'])
    let out = ''
    sh.child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
    })
    while (!out.includes('\n')) await new Promise((r) => setTimeout(r, 20))
    const zombie = Number(out.trim())
    assert.equal(pidAlive(zombie), true, 'still sleeping')
    await new Promise((r) => setTimeout(r, 1000))
    process.kill(zombie, 0) // does not throw: the pid still exists
    assert.equal(pidAlive(zombie), false)
    await sh
  })
})
