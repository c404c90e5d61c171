import { IpfsKitError } from '../../errors.ts'

/** What a gateway request asks for. */
export type ResponseFormat =
  | { kind: 'deserialized' }
  | { kind: 'raw' }
  | { kind: 'car'; version: 1; order: 'dfs'; dups: boolean }
  | { kind: 'codec'; codec: 'dag-json' | 'dag-cbor' | 'json' | 'cbor' }
  | { kind: 'tar' }

export const MEDIA = {
  raw: 'application/vnd.ipld.raw',
  car: 'application/vnd.ipld.car',
  'dag-json': 'application/vnd.ipld.dag-json',
  'dag-cbor': 'application/vnd.ipld.dag-cbor',
  json: 'application/json',
  cbor: 'application/cbor',
  tar: 'application/x-tar',
} as const

const FORMAT_OF_MEDIA = new Map<string, keyof typeof MEDIA>(
  Object.entries(MEDIA).map(([k, v]) => [v, k as keyof typeof MEDIA]),
)

/**
 * The response format from `?format=` (which wins) or the Accept header (first supported type in
 * the client's order, with the CAR parameters version, order and dups).
 */
export function negotiate(
  query: Record<string, string | undefined>,
  accept: string | undefined,
): ResponseFormat {
  const format = query.format
  if (format != null && format !== '') {
    const media = MEDIA[format as keyof typeof MEDIA]
    if (media == null) {
      throw new IpfsKitError(
        'ERR_INVALID_INPUT',
        `unsupported format "${format}": use raw, car, tar, dag-json, dag-cbor, json or cbor`,
      )
    }
    const fromAccept = parseAccept(accept).find((a) => a.type === media)
    return build(format as keyof typeof MEDIA, { ...fromAccept?.params, ...carQuery(query) })
  }
  for (const { type, params } of parseAccept(accept)) {
    const kind = FORMAT_OF_MEDIA.get(type)
    if (kind != null) return build(kind, { ...params, ...(kind === 'car' ? carQuery(query) : {}) })
  }
  return { kind: 'deserialized' }
}

/** True when the request named its format only in Accept (the answer then varies by Accept). */
export function formatFromAccept(query: Record<string, string | undefined>): boolean {
  return query.format == null || query.format === ''
}

function carQuery(query: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {}
  if (query['car-version'] != null) out.version = query['car-version']
  if (query['car-order'] != null) out.order = query['car-order']
  if (query['car-dups'] != null) out.dups = query['car-dups']
  return out
}

function build(kind: keyof typeof MEDIA, params: Record<string, string>): ResponseFormat {
  if (kind === 'raw') return { kind: 'raw' }
  if (kind === 'tar') return { kind: 'tar' }
  if (kind === 'car') {
    if (params.version != null && params.version !== '1') {
      throw new IpfsKitError(
        'ERR_INVALID_INPUT',
        `unsupported CAR version ${params.version}: only version=1 is served`,
      )
    }
    if (params.order != null && params.order !== 'dfs' && params.order !== 'unk') {
      throw new IpfsKitError('ERR_INVALID_INPUT', `unsupported CAR order "${params.order}": use dfs or unk`)
    }
    if (params.dups != null && params.dups !== 'y' && params.dups !== 'n') {
      throw new IpfsKitError('ERR_INVALID_INPUT', `invalid CAR dups "${params.dups}": use y or n`)
    }
    return { kind: 'car', version: 1, order: 'dfs', dups: params.dups === 'y' }
  }
  return { kind: 'codec', codec: kind }
}

interface AcceptItem {
  type: string
  q: number
  params: Record<string, string>
}

/** The media types of an Accept header, best first (by q, then by the client's order). */
export function parseAccept(header: string | undefined): AcceptItem[] {
  if (header == null) return []
  const items: (AcceptItem & { i: number })[] = []
  header.split(',').forEach((part, i) => {
    const [type = '', ...rest] = part.split(';').map((s) => s.trim())
    const params: Record<string, string> = {}
    let q = 1
    for (const p of rest) {
      const eq = p.indexOf('=')
      if (eq === -1) continue
      const key = p.slice(0, eq).trim().toLowerCase()
      const value = p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1')
      if (key === 'q') q = Number(value)
      else params[key] = value
    }
    if (type !== '' && q > 0) items.push({ type: type.toLowerCase(), q, params, i })
  })
  return items.sort((a, b) => b.q - a.q || a.i - b.i)
}
