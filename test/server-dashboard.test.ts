import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { type Browser, chromium, type Page } from 'playwright-core'
import { suiteTempDir } from './helpers/cli.ts'
import { startDaemon, type TestDaemon, writeConfig } from './helpers/daemon.ts'
import { startServer, type TestServer } from './helpers/server.ts'

/** Debian's Chromium (`apt-get install chromium`); the test fails, never skips, without it. */
const CHROMIUM = process.env.IPFS_KIT_CHROMIUM ?? '/usr/bin/chromium'
/** Screenshots land here (gitignored by `/tmp/`-style rules is not assumed: the folder is named in the report). */
const ARTIFACTS = join(new URL('..', import.meta.url).pathname, 'test-results', 'dashboard')

describe('dashboard in Chromium', () => {
  const tmp = suiteTempDir()
  let home: string
  let daemon: TestDaemon
  let server: TestServer
  let browser: Browser
  let page: Page

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `Chromium is not installed at ${CHROMIUM}: apt-get install chromium`)
    mkdirSync(ARTIFACTS, { recursive: true })
    home = join(tmp.dir, 'home')
    writeConfig(home, { node: { listen: ['/ip4/127.0.0.1/tcp/0'], peers: [], fetch_timeout_ms: 5000 } })
    daemon = await startDaemon(home)
    server = await startServer(home)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] })
    page = await browser.newPage({ viewport: { width: 1280, height: 1100 } })
  })
  after(async () => {
    await browser?.close()
    await server?.stop()
    await daemon?.stop()
  })

  test('loads with the live backends, small (bytes of the first load are measured)', async () => {
    let bytes = 0
    page.on('response', async (res) => {
      bytes += (await res.body().catch(() => Buffer.alloc(0))).length
    })
    await page.goto(server.url)
    await page.getByTestId('daemon-state').filter({ hasText: 'daemon running' }).waitFor()
    await page.getByTestId('backends').getByRole('cell', { name: 'local', exact: true }).first().waitFor()
    await page.screenshot({ path: join(ARTIFACTS, '1-loaded.png'), fullPage: true })
    assert.ok(bytes > 0 && bytes < 300_000, `first load is ${bytes} bytes`)
  })

  test('a file uploaded in the content browser appears with its pin, without a reload', async () => {
    const file = join(tmp.dir, 'hello-dashboard.txt')
    writeFileSync(file, 'uploaded through the dashboard\n')
    await page.getByTestId('upload').setInputFiles(file)
    const message = page.getByTestId('content-message')
    await message.filter({ hasText: 'added hello-dashboard.txt' }).waitFor()
    const cid = /: (Qm\w+)/.exec((await message.textContent()) ?? '')?.[1]
    assert.ok(cid != null, 'the upload answered with a CID')
    await page.getByTestId('pins').getByRole('link', { name: cid }).waitFor({ timeout: 30_000 })
    const served = await fetch(`${server.url}/ipfs/${cid}`)
    assert.equal(await served.text(), 'uploaded through the dashboard\n')
    await page.getByTestId('content-path').fill(cid)
    await page.getByRole('button', { name: 'Open' }).click()
    await page.getByTestId('content-listing').getByRole('link', { name: 'download' }).waitFor()
    await page.screenshot({ path: join(ARTIFACTS, '2-uploaded.png'), fullPage: true })
  })

  test('the VFS browser: a folder, a dropped file and a chosen one, with their pins live; download and delete', async () => {
    const files = page.getByTestId('files')
    await page.getByTestId('vfs-folder').fill('reports')
    await files.getByRole('button', { name: 'New folder' }).click()
    await page.getByTestId('vfs-message').filter({ hasText: 'made /reports' }).waitFor()
    await page.getByTestId('vfs-listing').getByRole('button', { name: 'reports/' }).click()
    // drag and drop, as a user does from the desktop: a drop event carrying a file
    const dropped = await page.evaluateHandle(`(() => {
      const dt = new DataTransfer()
      dt.items.add(new File(['dropped into the VFS\\n'], 'dropped.txt', { type: 'text/plain' }))
      return dt
    })()`)
    await page.dispatchEvent('[data-testid="vfs-drop"]', 'drop', { dataTransfer: dropped })
    const message = page.getByTestId('vfs-message')
    await message.filter({ hasText: 'wrote /reports/dropped.txt' }).waitFor()
    const droppedCid = /: (Qm\w+)/.exec((await message.textContent()) ?? '')?.[1]
    assert.ok(droppedCid != null, 'the write answered with a CID')
    const chosen = join(tmp.dir, 'chosen.bin')
    writeFileSync(chosen, Buffer.alloc(300_000, 7))
    await page.getByTestId('vfs-upload').setInputFiles(chosen)
    await message.filter({ hasText: 'wrote /reports/chosen.bin' }).waitFor()
    const listing = page.getByTestId('vfs-listing')
    await listing.getByRole('cell', { name: 'dropped.txt', exact: true }).waitFor()
    await listing.getByRole('cell', { name: 'chosen.bin', exact: true }).waitFor()
    // both pinned: the pins table shows them without a reload (the daemon's events drive it)
    await page.getByTestId('pins').getByRole('link', { name: droppedCid }).waitFor({ timeout: 30_000 })
    await page
      .getByTestId('pins')
      .getByRole('cell', { name: 'chosen.bin', exact: true })
      .waitFor({ timeout: 30_000 })
    // the same tree as the API and the CLI see
    const stat = (await (await server.call('/api/vfs/stat?path=/reports/dropped.txt')).json()) as {
      cid: string
    }
    assert.equal(stat.cid, droppedCid)
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      listing
        .getByRole('row', { name: /chosen\.bin/ })
        .getByRole('link', { name: 'download' })
        .click(),
    ])
    assert.equal(download.suggestedFilename(), 'chosen.bin')
    const saved = join(tmp.dir, 'downloaded.bin')
    await download.saveAs(saved)
    assert.deepEqual(readFileSync(saved), Buffer.alloc(300_000, 7))
    await page.screenshot({ path: join(ARTIFACTS, '3-vfs.png'), fullPage: true })
    await listing
      .getByRole('row', { name: /chosen\.bin/ })
      .getByRole('button', { name: 'delete' })
      .click()
    await message.filter({ hasText: 'removed /reports/chosen.bin' }).waitFor()
    assert.equal((await server.call('/api/vfs/stat?path=/reports/chosen.bin')).status, 404)
  })

  test('stopping the daemon shows the banner live; content still browses', async () => {
    assert.equal(await daemon.stop(), 0)
    await page.getByTestId('daemon-banner').waitFor({ timeout: 30_000 })
    assert.match((await page.getByTestId('daemon-banner').textContent()) ?? '', /ipfs-kit daemon start/)
    await page.getByRole('button', { name: 'Open' }).click()
    await page.getByTestId('content-listing').getByRole('link', { name: 'download' }).waitFor()
    // the VFS browses and takes files without the daemon
    const twice = join(tmp.dir, 'offline.txt')
    writeFileSync(twice, 'written while the daemon is down\n')
    await page.getByTestId('vfs-upload').setInputFiles(twice)
    await page.getByTestId('vfs-listing').getByRole('cell', { name: 'offline.txt', exact: true }).waitFor()
    await page.screenshot({ path: join(ARTIFACTS, '4-daemon-down.png'), fullPage: true })
  })
})
