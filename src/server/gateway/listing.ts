import type { LsEntry } from '../../content/export.ts'

/**
 * A directory listing in the shape Kubo's gateway gives (breadcrumbs, a parent link, one row per
 * entry with its CID), so people and the conformance suite find what they expect.
 */
export function directoryListing(root: string, segments: string[], cid: string, entries: LsEntry[]): string {
  const base = `/ipfs/${root}`
  const hrefOf = (names: string[]) => [base, ...names.map(encodeURIComponent)].join('/')
  const crumbs = [`<a href="${base}">${root}</a>`]
  segments.forEach((name, i) => {
    crumbs.push(`<a href="${hrefOf(segments.slice(0, i + 1))}">${escapeHtml(name)}</a>`)
  })
  const here = hrefOf(segments)
  const parent =
    segments.length > 0 ? `<tr><td></td><td><a href="${here}/..">..</a></td><td></td><td></td></tr>\n` : ''
  const rows = entries
    .map((e) => {
      const hashHref = `/ipfs/${e.cid}?filename=${encodeURIComponent(encodeURIComponent(e.name))}`
      const size = e.type === 'directory' ? '' : String(e.size)
      return `<tr><td>${e.type === 'directory' ? '&#128193;' : '&#128196;'}</td><td><a href="${here}/${encodeURIComponent(e.name)}">${escapeHtml(e.name)}</a></td><td><a class="ipfs-hash" translate="no" href="${hashHref}">${e.cid}</a></td><td>${size}</td></tr>`
    })
    .join('\n')
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>/ipfs/${escapeHtml([root, ...segments].join('/'))}/</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}td{padding:.2em 1em}.ipfs-hash{font-family:monospace;font-size:.85em;color:#666}</style>
</head><body>
<h1>Index of /ipfs/${crumbs.join('/')}</h1>
<p class="ipfs-hash">${cid}</p>
<table>
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

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]!)
}
