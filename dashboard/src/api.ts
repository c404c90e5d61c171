/** The API token, handed to this page inside the HTML by the local server (never in a URL). */
const token = document.querySelector<HTMLMetaElement>('meta[name="ipfs-kit-token"]')?.content ?? ''

export interface ApiError {
  code: string
  message: string
}

/** A JSON answer, or the server's `{ error }` as an exception with its message. */
export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers)
  if (init.method != null && init.method !== 'GET') headers.set('authorization', `Bearer ${token}`)
  if (typeof init.body === 'string') headers.set('content-type', 'application/json')
  const res = await fetch(path, { ...init, headers })
  if (res.status === 202 && res.headers.get('content-length') === '0') return undefined as T
  const body = (await res.json().catch(() => ({}))) as { error?: ApiError }
  if (!res.ok) throw new Error(body.error?.message ?? `${init.method ?? 'GET'} ${path}: HTTP ${res.status}`)
  return body as T
}

/**
 * Uploads a file as the request body to `url` (default: /api/content, the blockstore) with progress
 * (XMLHttpRequest: fetch has no upload progress).
 */
export function upload(
  file: File,
  onProgress: (fraction: number) => void,
  url = `/api/content?name=${encodeURIComponent(file.name)}`,
): Promise<{ cid: string; size: number }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', url)
    xhr.setRequestHeader('authorization', `Bearer ${token}`)
    xhr.setRequestHeader('content-type', 'application/octet-stream')
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total)
    }
    xhr.onload = () => {
      const body = JSON.parse(xhr.responseText || '{}') as { cid: string; size: number; error?: ApiError }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body)
      else reject(new Error(body.error?.message ?? `upload failed: HTTP ${xhr.status}`))
    }
    xhr.onerror = () => reject(new Error('upload failed: the server did not answer'))
    xhr.send(file)
  })
}

export function humanBytes(n: number | null | undefined): string {
  if (n == null) return '-'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`
}
