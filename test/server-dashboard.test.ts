import assert from 'node:assert/strict'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
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

  test('stopping the daemon shows the banner live; content still browses', async () => {
    assert.equal(await daemon.stop(), 0)
    await page.getByTestId('daemon-banner').waitFor({ timeout: 30_000 })
    assert.match((await page.getByTestId('daemon-banner').textContent()) ?? '', /ipfs-kit daemon start/)
    await page.getByRole('button', { name: 'Open' }).click()
    await page.getByTestId('content-listing').getByRole('link', { name: 'download' }).waitFor()
    await page.screenshot({ path: join(ARTIFACTS, '3-daemon-down.png'), fullPage: true })
  })
})
