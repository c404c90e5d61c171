import * as dagCbor from '@ipld/dag-cbor'
import * as dagJson from '@ipld/dag-json'
import * as dagPb from '@ipld/dag-pb'
import type { FastifyReply } from 'fastify'
import type { CID } from 'multiformats/cid'
import * as json from 'multiformats/codecs/json'
import * as raw from 'multiformats/codecs/raw'
import { IpfsKitError } from '../../errors.ts'
import { disposition, GENERATED, notModified } from './headers.ts'
import { escapeHtml } from './listing.ts'
import { MEDIA } from './negotiate.ts'
import { bytesReader, sendRanged } from './ranged.ts'

const CBOR = 0x51

export type CodecFormat = 'dag-json' | 'dag-cbor' | 'json' | 'cbor'

/** The format a block of this codec is served as when none is asked for, if it is not UnixFS. */
export function nativeFormat(cid: CID): CodecFormat | undefined {
  if (cid.code === dagJson.code) return 'dag-json'
  if (cid.code === dagCbor.code) return 'dag-cbor'
  if (cid.code === json.code) return 'json'
  if (cid.code === CBOR) return 'cbor'
  return undefined
}

/**
 * A block as dag-json, dag-cbor, json or cbor: as is when its codec matches (or raw bytes asked as
 * plain json/cbor), dag-pb converted to dag-json/dag-cbor, anything else 406 as in Kubo.
 */
export function sendCodec(
  reply: FastifyReply,
  cid: CID,
  bytes: Uint8Array,
  want: CodecFormat,
  opts: { head: boolean; filename?: string; download?: string },
): FastifyReply {
  const have = nativeFormat(cid)
  let body: Uint8Array
  const plainOf = (want === 'json' && have === 'dag-json') || (want === 'cbor' && have === 'dag-cbor')
  if (have === want || plainOf || (cid.code === raw.code && (want === 'json' || want === 'cbor')))
    body = bytes
  else if (cid.code === dagPb.code && want === 'dag-json') body = dagJson.encode(dagPb.decode(bytes))
  else if (cid.code === dagPb.code && want === 'dag-cbor') body = dagCbor.encode(dagPb.decode(bytes))
  else {
    throw new IpfsKitError(
      'ERR_NOT_ACCEPTABLE',
      `${cid} (codec 0x${cid.code.toString(16)}) cannot be served as ${want}: ask for its own codec or format=raw`,
    )
  }
  const jsonLike = want === 'dag-json' || want === 'json'
  if (notModified(reply, `"${cid}.${want}"`)) return reply
  const kind = opts.download === 'true' || !jsonLike ? 'attachment' : 'inline'
  reply.header(
    'content-disposition',
    disposition(kind, opts.filename ?? `${cid}.${jsonLike ? 'json' : 'cbor'}`),
  )
  return sendRanged(reply, { size: body.length, type: MEDIA[want], head: opts.head, read: bytesReader(body) })
}

/** An HTML page showing a dag-json / dag-cbor block, for browsers (Accept: text/html). */
export function sendDagPreview(
  reply: FastifyReply,
  cid: CID,
  bytes: Uint8Array,
  head: boolean,
): FastifyReply {
  if (notModified(reply, `"DagIndex-v1_CID-${cid}"`, GENERATED)) return reply
  let shown: string
  try {
    const value =
      cid.code === dagJson.code || cid.code === json.code ? dagJson.decode(bytes) : dagCbor.decode(bytes)
    shown = JSON.stringify(JSON.parse(new TextDecoder().decode(dagJson.encode(value))), null, 2)
  } catch {
    shown = `(${bytes.length} bytes that do not decode as dag-json or dag-cbor)`
  }
  const html = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>${cid}</title></head><body>
<h1>${cid}</h1>
<p>codec 0x${cid.code.toString(16)}, ${bytes.length} bytes. Download as <a href="?format=dag-json">dag-json</a>, <a href="?format=dag-cbor">dag-cbor</a>, <a href="?format=raw">raw block</a> or <a href="?format=car">CAR</a>.</p>
<pre>${escapeHtml(shown)}</pre>
</body></html>
`
  reply.header('content-type', 'text/html; charset=utf-8')
  return reply.code(200).send(head ? undefined : html)
}
