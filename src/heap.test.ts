import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { getHeapStatistics } from 'node:v8'
import { tuneHeapForService } from './heap.ts'

describe('heap growth of a long-running process', () => {
  it('takes IPFS_KIT_HEAP_GROWING_PERCENT from 0 to 1000 and refuses anything else by name', () => {
    for (const ok of ['', '0', '1000', '50']) tuneHeapForService({ IPFS_KIT_HEAP_GROWING_PERCENT: ok })
    for (const bad of ['-1', '1001', '2.5', 'lots', '50%']) {
      assert.throws(
        () => tuneHeapForService({ IPFS_KIT_HEAP_GROWING_PERCENT: bad }),
        (err: Error & { code?: string }) =>
          err.code === 'ERR_INVALID_INPUT' && err.message.includes('IPFS_KIT_HEAP_GROWING_PERCENT'),
      )
    }
    assert.ok(getHeapStatistics().used_heap_size > 0)
  })
})
