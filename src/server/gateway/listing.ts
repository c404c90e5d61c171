import type { LsEntry } from '../../content/export.ts'

/** A plain HTML listing of a directory without index.html (names link relative to the directory). */
export function directoryListing(path: string, cid: string, entries: LsEntry[]): string {
  const rows = entries
    .map((e) => {
      const href = encodeURIComponent(e.name) + (e.type === 'directory' ? '/' : '')
      const size = e.type === 'directory' ? '-' : String(e.size)
      return `<tr><td><a href="${href}">${escapeHtml(e.name)}${e.type === 'directory' ? '/' : ''}</a></td><td><a class="cid" href="/ipfs/${e.cid}">${e.cid}</a></td><td>${size}</td></tr>`
    })
    .join('\n')
  const parent =
    path.split('/').filter(Boolean).length > 2
      ? '<tr><td><a href="..">..</a></td><td></td><td></td></tr>\n'
      : ''
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${escapeHtml(path)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}td{padding:.2em 1em}.cid{font-family:monospace;font-size:.85em;color:#666}</style>
</head><body>
<h1>Index of ${escapeHtml(path)}</h1>
<p class="cid">${cid}</p>
<table><tr><th>name</th><th>CID</th><th>size</th></tr>
${parent}${rows}
</table></body></html>
`
}

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]!)
}
