import htm from 'htm'
import { h, render } from 'preact'
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { api, humanBytes, upload } from './api.ts'
import { latencyChart, storageChart } from './charts.ts'
import './style.css'

const html = htm.bind(h)

// biome-ignore lint/suspicious/noExplicitAny: daemon JSON is shown as given
type Json = Record<string, any>

interface Summary {
  health: Json
  daemon: { available: boolean; message?: string; status?: Json }
  backends?: { backends?: Json[] } | Json
  replication?: Json
  storage?: Json
}

/** Live events from /api/events; reconnects (EventSource gives up on a 503 while the daemon is down). */
function useEvents(onEvent: (e: Json) => void): boolean {
  const [connected, setConnected] = useState(false)
  const handler = useRef(onEvent)
  handler.current = onEvent
  useEffect(() => {
    let source: EventSource | undefined
    let retry: ReturnType<typeof setTimeout> | undefined
    const open = () => {
      source = new EventSource('/api/events')
      source.onmessage = (m) => {
        const event = JSON.parse(m.data) as Json
        if (event.type === 'daemon') setConnected(event.status === 'up')
        handler.current(event)
      }
      source.onerror = () => {
        setConnected(false)
        handler.current({ type: 'daemon', status: 'down' })
        source?.close()
        retry = setTimeout(open, 2000)
      }
    }
    open()
    return () => {
      source?.close()
      clearTimeout(retry)
    }
  }, [])
  return connected
}

function App() {
  const [summary, setSummary] = useState<Summary | undefined>()
  const [error, setError] = useState<string | undefined>()
  const [tick, setTick] = useState(0)
  const [progress, setProgress] = useState<Json | undefined>()
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined)
  const refresh = useCallback(() => {
    clearTimeout(timer.current)
    timer.current = setTimeout(() => {
      api<Summary>('/api/dashboard/summary')
        .then((s) => {
          setSummary(s)
          setError(undefined)
          setTick((t) => t + 1)
        })
        .catch((e: Error) => setError(e.message))
    }, 150)
  }, [])
  useEffect(refresh, [])
  const live = useEvents((e) => {
    if (e.type === 'replication') setProgress(e)
    refresh()
  })
  const daemonUp = summary?.daemon.available === true
  const backends = ((summary?.backends as { backends?: Json[] } | undefined)?.backends ?? []) as Json[]
  return html`
    <header>
      <h1>ipfs-kit</h1>
      <span class=${`pill ${daemonUp ? 'ok' : 'down'}`} data-testid="daemon-state">${daemonUp ? 'daemon running' : 'daemon stopped'}</span>
      <span class=${`pill ${live ? 'ok' : 'idle'}`}>${live ? 'live' : 'not live'}</span>
    </header>
    ${summary != null && !daemonUp &&
    html`<div class="banner" role="alert" data-testid="daemon-banner">
      The daemon is not running: start it with <code>ipfs-kit daemon start</code>. Content can still be browsed,
      added and downloaded; pins, backends and replication come back when it runs.
    </div>`}
    ${error != null && html`<div class="banner">${error}</div>`}
    <main>
      <${Status} summary=${summary} progress=${progress} />
      <${Storage} storage=${summary?.storage} />
      <${Backends} backends=${backends} tick=${tick} />
      <${Pins} tick=${tick} daemonUp=${daemonUp} />
      <${Files} tick=${tick} />
      <${Content} />
      <${Logs} backends=${backends} daemonUp=${daemonUp} />
    </main>
  `
}

function Status({ summary, progress }: { summary?: Summary; progress?: Json }) {
  const s = summary?.daemon.status ?? {}
  const pins = (s.pins ?? {}) as Json
  const rep = (summary?.replication ?? {}) as Json
  const pct = progress?.phase === 'progress' && progress.pins > 0 ? Math.round((progress.done / progress.pins) * 100) : null
  return html`<section class="card">
    <h2>Daemon</h2>
    ${summary?.daemon.available
      ? html`<dl>
          <dt>version</dt><dd>${s.version}</dd>
          <dt>pid</dt><dd>${s.pid}</dd>
          <dt>uptime</dt><dd>${Math.round(s.uptime_s ?? 0)} s</dd>
          <dt>pins</dt><dd data-testid="pin-counts">${pins.pinned ?? 0} pinned, ${pins.queued ?? 0} queued, ${pins.failed ?? 0} failed</dd>
          <dt>replication</dt><dd>${rep.totals ? JSON.stringify(rep.totals) : progress?.phase ?? 'idle'}</dd>
        </dl>
        ${pct != null && html`<progress max="100" value=${pct}></progress> ${pct}%`}`
      : html`<p>not running</p>`}
    <p class="muted">server ${summary?.health.version} · data ${summary?.health.data_dir}</p>
  </section>`
}

function Storage({ storage }: { storage?: Json }) {
  const el = useRef<HTMLDivElement>(null)
  const chart = useRef<ReturnType<typeof storageChart> | undefined>(undefined)
  useEffect(() => {
    if (el.current == null) return
    chart.current = storageChart(el.current)
    return () => chart.current?.destroy()
  }, [])
  const rows = ((storage?.backends ?? []) as Json[]).map((b) => ({ backend: String(b.backend), bytes: Number(b.bytes) }))
  useEffect(() => chart.current?.update(rows), [JSON.stringify(rows)])
  return html`<section class="card">
    <h2>Storage per backend</h2>
    ${storage?.error != null && html`<p class="muted">${storage.error.message}</p>`}
    <div ref=${el}></div>
    ${storage?.pins != null && html`<p class="muted">${storage.pins} pins, ${humanBytes(storage.bytes)}, ${storage.underReplicated} under-replicated</p>`}
  </section>`
}

function LatencyChart({ name, tick }: { name: string; tick: number }) {
  const el = useRef<HTMLDivElement>(null)
  const chart = useRef<ReturnType<typeof latencyChart> | undefined>(undefined)
  useEffect(() => {
    if (el.current == null) return
    chart.current = latencyChart(el.current)
    return () => chart.current?.destroy()
  }, [])
  useEffect(() => {
    api<{ history: Json[] }>(`/api/dashboard/backends/${encodeURIComponent(name)}/history`)
      .then((r) => {
        const points = r.history
          .map((p) => ({ at: Number(p.checkedAt ?? p.checked_at ?? p.at ?? 0), ms: p.latencyMs ?? p.latency_ms ?? null }))
          .sort((a, b) => a.at - b.at)
        chart.current?.update(points)
      })
      .catch(() => {})
  }, [name, tick])
  return html`<div class="chart" ref=${el}></div>`
}

function Backends({ backends, tick }: { backends: Json[]; tick: number }) {
  return html`<section class="card wide">
    <h2>Backends</h2>
    <table data-testid="backends">
      <thead><tr><th>name</th><th>type</th><th>state</th><th>health</th><th>latency history</th></tr></thead>
      <tbody>
        ${backends.map(
          (b) => html`<tr key=${b.name}>
            <td>${b.name}</td><td>${b.type}</td><td>${b.state}</td>
            <td><span class=${`pill ${b.health?.status === 'healthy' ? 'ok' : 'down'}`}>${b.health?.status ?? 'unknown'}</span>
              ${b.error != null && html`<div class="muted small">${b.error}</div>`}</td>
            <td><${LatencyChart} name=${b.name} tick=${tick} /></td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`
}

function Pins({ tick, daemonUp }: { tick: number; daemonUp: boolean }) {
  const [search, setSearch] = useState('')
  const [offset, setOffset] = useState(0)
  const [page, setPage] = useState<{ total: number; results: Json[] }>({ total: 0, results: [] })
  const [cid, setCid] = useState('')
  const [message, setMessage] = useState<string>()
  const limit = 20
  useEffect(() => {
    if (!daemonUp) return
    api<{ total: number; results: Json[] }>(
      `/api/dashboard/pins?offset=${offset}&limit=${limit}${search ? `&search=${encodeURIComponent(search)}` : ''}`,
    )
      .then(setPage)
      .catch((e: Error) => setMessage(e.message))
  }, [search, offset, tick, daemonUp])
  const pin = async (e: Event) => {
    e.preventDefault()
    try {
      const r = await api<Json>('/api/pins', { method: 'POST', body: JSON.stringify({ cid: cid.trim() }) })
      setMessage(`pinned ${r.pin?.pin?.cid}${r.placement?.targets?.length ? ` on ${r.placement.targets.map((t: Json) => t.backend).join(', ')}` : ''}`)
      setCid('')
    } catch (err) {
      setMessage((err as Error).message)
    }
  }
  const unpin = async (c: string) => {
    await api(`/api/pins/${c}`, { method: 'DELETE' }).catch((err: Error) => setMessage(err.message))
  }
  return html`<section class="card wide">
    <h2>Pins</h2>
    <form onSubmit=${pin} class="row">
      <input placeholder="CID to pin" value=${cid} onInput=${(e: Event) => setCid((e.target as HTMLInputElement).value)} disabled=${!daemonUp} />
      <button disabled=${!daemonUp || cid.trim() === ''}>Pin</button>
      <input type="search" placeholder="search CID or name" data-testid="pin-search" value=${search}
        onInput=${(e: Event) => { setSearch((e.target as HTMLInputElement).value); setOffset(0) }} />
    </form>
    ${message != null && html`<p class="muted">${message}</p>`}
    <table data-testid="pins">
      <thead><tr><th>CID</th><th>name</th><th>status</th><th>replicas</th><th></th></tr></thead>
      <tbody>
        ${page.results.map(
          (p) => html`<tr key=${p.pin.cid}>
            <td class="mono"><a href=${`/ipfs/${p.pin.cid}`}>${p.pin.cid}</a></td>
            <td>${p.pin.name ?? ''}</td><td>${p.status}</td>
            <td>${(p.info?.replicas ?? []).filter((r: Json) => r.state === 'verified').map((r: Json) => r.backend).join(', ')}</td>
            <td><button class="link" onClick=${() => unpin(p.pin.cid)}>unpin</button></td>
          </tr>`,
        )}
      </tbody>
    </table>
    <div class="row">
      <button disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - limit))}>previous</button>
      <span class="muted">${page.total === 0 ? 'no pins' : `${offset + 1}-${Math.min(offset + limit, page.total)} of ${page.total}`}</span>
      <button disabled=${offset + limit >= page.total} onClick=${() => setOffset(offset + limit)}>next</button>
    </div>
  </section>`
}

function Content() {
  const [path, setPath] = useState('')
  const [listing, setListing] = useState<{ path: string; entries: Json[] }>()
  const [message, setMessage] = useState<string>()
  const [uploading, setUploading] = useState<{ name: string; fraction: number }>()
  const [drag, setDrag] = useState(false)
  const open = async (p: string) => {
    setPath(p)
    try {
      setListing(await api(`/api/content/ls?path=${encodeURIComponent(p)}`))
      setMessage(undefined)
    } catch (err) {
      setMessage((err as Error).message)
    }
  }
  const send = async (files: FileList | null) => {
    for (const file of Array.from(files ?? [])) {
      setUploading({ name: file.name, fraction: 0 })
      try {
        const r = await upload(file, (fraction) => setUploading({ name: file.name, fraction }))
        setMessage(`added ${file.name}: ${r.cid} (${humanBytes(r.size)}), pinned`)
      } catch (err) {
        setMessage((err as Error).message)
      }
      setUploading(undefined)
    }
  }
  return html`<section class="card wide">
    <h2>Content</h2>
    <form class="row" onSubmit=${(e: Event) => { e.preventDefault(); void open(path.trim()) }}>
      <input placeholder="CID or CID/path" data-testid="content-path" value=${path} onInput=${(e: Event) => setPath((e.target as HTMLInputElement).value)} />
      <button>Open</button>
    </form>
    <div class=${`drop ${drag ? 'over' : ''}`} data-testid="drop"
      onDragOver=${(e: DragEvent) => { e.preventDefault(); setDrag(true) }}
      onDragLeave=${() => setDrag(false)}
      onDrop=${(e: DragEvent) => { e.preventDefault(); setDrag(false); void send(e.dataTransfer?.files ?? null) }}>
      Drop files here to add them, or <label class="link">choose<input type="file" multiple hidden data-testid="upload"
        onChange=${(e: Event) => void send((e.target as HTMLInputElement).files)} /></label>
      ${uploading != null && html`<div><progress max="1" value=${uploading.fraction}></progress> ${uploading.name} ${Math.round(uploading.fraction * 100)}%</div>`}
    </div>
    ${message != null && html`<p class="muted" data-testid="content-message">${message}</p>`}
    ${listing != null && html`<table data-testid="content-listing">
      <thead><tr><th>name</th><th>type</th><th>size</th><th></th></tr></thead>
      <tbody>${listing.entries.map(
        (e) => html`<tr key=${e.cid + e.name}>
          <td>${e.type === 'directory' ? html`<button class="link" onClick=${() => open(`${listing.path}/${e.name}`)}>${e.name}/</button>` : e.name}</td>
          <td>${e.type}</td><td>${e.type === 'directory' ? '' : humanBytes(e.size)}</td>
          <td><a href=${`/ipfs/${e.cid}?filename=${encodeURIComponent(e.name)}&download=true`}>download</a></td>
        </tr>`,
      )}</tbody>
    </table>`}
  </section>`
}

/** The parent of a VFS path ("/" stays "/"). */
function parentOf(path: string): string {
  const i = path.lastIndexOf('/')
  return i <= 0 ? '/' : path.slice(0, i)
}

function childOf(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`
}

/** The VFS browser: the mutable file tree (Kubo's `ipfs files`), with upload, download and delete. */
function Files({ tick }: { tick: number }) {
  const [dir, setDir] = useState('/')
  const [listing, setListing] = useState<{ path: string; cid: string; entries: Json[] }>()
  const [message, setMessage] = useState<string>()
  const [folder, setFolder] = useState('')
  const [uploading, setUploading] = useState<{ name: string; fraction: number }>()
  const [drag, setDrag] = useState(false)
  const [version, setVersion] = useState(0)
  useEffect(() => {
    api<{ path: string; cid: string; entries: Json[] }>(`/api/vfs/ls?path=${encodeURIComponent(dir)}`)
      .then(setListing)
      .catch((e: Error) => setMessage(e.message))
  }, [dir, tick, version])
  const changed = (text: string) => {
    setMessage(text)
    setVersion((v) => v + 1)
  }
  const send = async (files: FileList | null) => {
    for (const file of Array.from(files ?? [])) {
      const path = childOf(dir, file.name)
      setUploading({ name: file.name, fraction: 0 })
      try {
        const q = `path=${encodeURIComponent(path)}&create=true&truncate=true&parents=true&pin=true`
        const r = await upload(file, (fraction) => setUploading({ name: file.name, fraction }), `/api/vfs/write?${q}`)
        changed(`wrote ${path}: ${r.cid} (${humanBytes(r.size)}), pinned`)
      } catch (err) {
        setMessage((err as Error).message)
      }
      setUploading(undefined)
    }
  }
  const mkdir = async (e: Event) => {
    e.preventDefault()
    try {
      const r = await api<Json>('/api/vfs/mkdir', { method: 'POST', body: JSON.stringify({ path: childOf(dir, folder.trim()) }) })
      changed(`made ${r.path}`)
      setFolder('')
    } catch (err) {
      setMessage((err as Error).message)
    }
  }
  const remove = async (name: string) => {
    try {
      const r = await api<Json>('/api/vfs/rm', { method: 'POST', body: JSON.stringify({ path: childOf(dir, name), recursive: true }) })
      changed(`removed ${r.path}`)
    } catch (err) {
      setMessage((err as Error).message)
    }
  }
  const crumbs = dir === '/' ? [] : dir.slice(1).split('/')
  return html`<section class="card wide" data-testid="files">
    <h2>Files (VFS)</h2>
    <div class="row">
      <button class="link" onClick=${() => setDir('/')}>/</button>
      ${crumbs.map((c, i) => html`<button class="link" onClick=${() => setDir(`/${crumbs.slice(0, i + 1).join('/')}`)}>${c}/</button>`)}
      ${listing != null && html`<span class="muted mono" data-testid="vfs-cid">${listing.cid}</span>`}
    </div>
    <form class="row" onSubmit=${mkdir}>
      <input placeholder="new folder name" data-testid="vfs-folder" value=${folder} onInput=${(e: Event) => setFolder((e.target as HTMLInputElement).value)} />
      <button disabled=${folder.trim() === ''}>New folder</button>
    </form>
    <div class=${`drop ${drag ? 'over' : ''}`} data-testid="vfs-drop"
      onDragOver=${(e: DragEvent) => { e.preventDefault(); setDrag(true) }}
      onDragLeave=${() => setDrag(false)}
      onDrop=${(e: DragEvent) => { e.preventDefault(); setDrag(false); void send(e.dataTransfer?.files ?? null) }}>
      Drop files here to write them into ${dir}, or <label class="link">choose<input type="file" multiple hidden data-testid="vfs-upload"
        onChange=${(e: Event) => void send((e.target as HTMLInputElement).files)} /></label>
      ${uploading != null && html`<div><progress max="1" value=${uploading.fraction}></progress> ${uploading.name} ${Math.round(uploading.fraction * 100)}%</div>`}
    </div>
    ${message != null && html`<p class="muted" data-testid="vfs-message">${message}</p>`}
    <table data-testid="vfs-listing">
      <thead><tr><th>name</th><th>size</th><th>CID</th><th></th></tr></thead>
      <tbody>
        ${dir !== '/' && html`<tr><td><button class="link" onClick=${() => setDir(parentOf(dir))}>../</button></td><td></td><td></td><td></td></tr>`}
        ${(listing?.entries ?? []).map(
          (e) => html`<tr key=${e.name}>
            <td>${e.type === 'directory' ? html`<button class="link" onClick=${() => setDir(childOf(dir, e.name))}>${e.name}/</button>` : e.name}</td>
            <td>${e.type === 'directory' ? '' : humanBytes(e.size)}</td>
            <td class="mono">${e.cid}</td>
            <td>
              ${e.type !== 'directory' && html`<a href=${`/api/vfs/read?path=${encodeURIComponent(childOf(dir, e.name))}&download=true`}>download</a> `}
              <button class="link" onClick=${() => remove(e.name)}>delete</button>
            </td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`
}

function Logs({ backends, daemonUp }: { backends: Json[]; daemonUp: boolean }) {
  const [name, setName] = useState('daemon')
  const [follow, setFollow] = useState(true)
  const [lines, setLines] = useState<string[]>([])
  const box = useRef<HTMLPreElement>(null)
  useEffect(() => {
    if (!daemonUp) return
    let stop = false
    const load = () =>
      api<{ lines: string[] }>(`/api/backends/${encodeURIComponent(name)}/logs?lines=200`)
        .then((r) => !stop && setLines(r.lines))
        .catch((e: Error) => !stop && setLines([e.message]))
    void load()
    const timer = follow ? setInterval(load, 2000) : undefined
    return () => {
      stop = true
      clearInterval(timer)
    }
  }, [name, follow, daemonUp])
  useEffect(() => {
    if (follow && box.current != null) box.current.scrollTop = box.current.scrollHeight
  }, [lines])
  return html`<section class="card wide">
    <h2>Logs</h2>
    <div class="row">
      <select value=${name} onChange=${(e: Event) => setName((e.target as HTMLSelectElement).value)}>
        ${['daemon', ...backends.map((b) => String(b.name))].map((n) => html`<option value=${n}>${n}</option>`)}
      </select>
      <label><input type="checkbox" checked=${follow} onChange=${(e: Event) => setFollow((e.target as HTMLInputElement).checked)} /> follow</label>
    </div>
    <pre class="logs" ref=${box} data-testid="logs">${lines.join('\n')}</pre>
  </section>`
}

render(html`<${App} />`, document.getElementById('app')!)
