import { Readable } from 'node:stream'
import type {
  ListMultipartUploadsCommandOutput,
  ListObjectsV2CommandOutput,
  S3Client,
} from '@aws-sdk/client-s3'
import type { CID } from 'multiformats/cid'
import * as z from 'zod'
import { BackendError } from '../errors.ts'
import { verifyCar } from './filesystem.ts'
import { bothOrNeither, httpUrl } from './options.ts'
import { abortable } from './streams.ts'
import type { Backend, BackendContext, BackendStat, HealthReport, SweptItem, VerifyResult } from './types.ts'

const MiB = 1024 * 1024

/**
 * Config of an `s3` backend: any S3-compatible endpoint (AWS, MinIO, versitygw, Ceph, R2...). The
 * credentials come from here or, when left out, from the AWS SDK's usual places (AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY, a profile); they are never logged, answered or put in an error.
 */
export const S3Options = z
  .object({
    name: z.string(),
    type: z.literal('s3'),
    bucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3-63 of a-z, 0-9, . and -)'),
    /** e.g. http://127.0.0.1:7070; AWS's own endpoint for `region` when left out. */
    endpoint: httpUrl.optional(),
    region: z.string().min(1).default('us-east-1'),
    /** Put before every object key, e.g. `pins/`. */
    prefix: z
      .string()
      .max(512)
      .regex(/^([\x20-\x2e\x30-\x7e][\x20-\x7e]*)?$/, 'must be printable ASCII and not start with "/"')
      .default(''),
    /** Path-style URLs (http://host/bucket/key), which most S3-compatible servers need. */
    force_path_style: z.boolean().default(true),
    access_key_id: z.string().min(1).optional(),
    secret_access_key: z.string().min(1).optional(),
    /** Create the bucket at start when it does not exist. */
    create_bucket: z.boolean().default(false),
    /** Multipart part size: memory per upload is at most part_size x 2. */
    part_size: z
      .number()
      .int()
      .min(5 * MiB)
      .max(512 * MiB)
      .default(8 * MiB),
    /** How long one call other than a transfer may take, in milliseconds. */
    timeout_ms: z.number().int().positive().max(600_000).default(30_000),
  })
  .strict()
  .refine((o) => (o.access_key_id == null) === (o.secret_access_key == null), {
    message: 'set both access_key_id and secret_access_key, or neither (then the AWS SDK finds them)',
    path: ['secret_access_key'],
  })
  .meta(bothOrNeither('access_key_id', 'secret_access_key'))

/** `<prefix><cid>.car` */
const CAR_KEY = /^([A-Za-z0-9]+)\.car$/
/** An unfinished multipart upload is taken for dead once it is this old (another writer may own it). */
const STALE_UPLOAD_MS = 24 * 3600 * 1000

/**
 * An S3 bucket holding one CARv1 object per pinned DAG, `<prefix><cid>.car`. An upload streams (a
 * multipart upload of `part_size` parts, two in flight), so memory never grows with the pin; an object
 * appears only when its upload completes, so it is whole or absent; an aborted upload is aborted on
 * the server too, leaving no parts behind.
 */
export class S3Backend implements Backend {
  readonly type = 's3'
  readonly name: string
  private readonly opts: z.infer<typeof S3Options>
  private readonly ctx: BackendContext
  private sdk: Promise<Sdk> | undefined

  constructor(opts: z.infer<typeof S3Options>, ctx: BackendContext) {
    this.name = opts.name
    this.opts = opts
    this.ctx = ctx
  }

  /** The AWS SDK (a few MB of modules) is loaded on first use, so no command that never talks to S3 pays for it. */
  private load(): Promise<Sdk> {
    this.sdk ??= Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage')]).then(
      ([s3, storage]) => ({
        s3,
        Upload: storage.Upload,
        client: new s3.S3Client({
          region: this.opts.region,
          endpoint: this.opts.endpoint,
          forcePathStyle: this.opts.force_path_style,
          credentials:
            this.opts.access_key_id != null && this.opts.secret_access_key != null
              ? { accessKeyId: this.opts.access_key_id, secretAccessKey: this.opts.secret_access_key }
              : undefined,
          maxAttempts: 3,
        }),
      }),
    )
    return this.sdk
  }

  /** Sends one command, built from the loaded SDK's classes. */
  private async send<T>(make: (s3: Sdk['s3']) => object, signal: AbortSignal): Promise<T> {
    const { s3, client } = await this.load()
    // each command is typed by its own class; the client's overloads cannot name them all
    return (await client.send(make(s3) as never, { abortSignal: signal })) as T
  }

  private key(root: CID | string): string {
    return `${this.opts.prefix}${root.toString()}.car`
  }

  async start(): Promise<void> {
    this.ctx.log(
      `s3 backend ${this.name}: bucket ${this.opts.bucket} at ${this.opts.endpoint ?? `AWS ${this.opts.region}`}`,
    )
    if (!this.opts.create_bucket) return
    try {
      await this.send((s3) => new s3.HeadBucketCommand({ Bucket: this.opts.bucket }), this.deadline())
    } catch (err) {
      if (!notFound(err)) throw this.error('head bucket', err)
      await this.send(
        (s3) => new s3.CreateBucketCommand({ Bucket: this.opts.bucket }),
        this.deadline(),
      ).catch((e) => {
        if ((e as Error).name !== 'BucketAlreadyOwnedByYou') throw this.error('create bucket', e)
      })
      this.ctx.log(`created bucket ${this.opts.bucket}`)
    }
  }

  async stop(): Promise<void> {
    const sdk = this.sdk
    this.sdk = undefined
    if (sdk != null) (await sdk).client.destroy()
  }

  async health(signal?: AbortSignal): Promise<HealthReport> {
    const started = performance.now()
    try {
      await this.send((s3) => new s3.HeadBucketCommand({ Bucket: this.opts.bucket }), this.deadline(signal))
      // S3 has no free space to report: it grows with what is put
      return { status: 'healthy', latencyMs: performance.now() - started }
    } catch (err) {
      return {
        status: 'unhealthy',
        latencyMs: performance.now() - started,
        error: this.error('head bucket', err).message,
      }
    }
  }

  async has(root: CID): Promise<boolean> {
    try {
      await this.send(
        (s3) => new s3.HeadObjectCommand({ Bucket: this.opts.bucket, Key: this.key(root) }),
        this.deadline(),
      )
      return true
    } catch (err) {
      if (notFound(err)) return false
      throw this.error('head object', err)
    }
  }

  async put(root: CID, car: AsyncIterable<Uint8Array>, opts: { signal?: AbortSignal } = {}): Promise<void> {
    opts.signal?.throwIfAborted()
    const { Upload, client } = await this.load()
    const upload = new Upload({
      client,
      params: {
        Bucket: this.opts.bucket,
        Key: this.key(root),
        Body: Readable.from(abortable(car, opts.signal), { objectMode: false }),
        ContentType: 'application/vnd.ipld.car; version=1',
      },
      partSize: this.opts.part_size,
      queueSize: 2,
      leavePartsOnError: false,
    })
    const onAbort = () => void upload.abort().catch(() => {})
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      await upload.done()
    } catch (err) {
      if (opts.signal?.aborted) {
        // the SDK aborts the multipart upload on the server (leavePartsOnError false); say why we stopped
        throw opts.signal.reason instanceof Error
          ? opts.signal.reason
          : new DOMException('aborted', 'AbortError')
      }
      throw this.error('upload', err)
    } finally {
      opts.signal?.removeEventListener('abort', onAbort)
    }
  }

  async *get(root: CID, opts: { signal?: AbortSignal } = {}): AsyncIterable<Uint8Array> {
    let body: AsyncIterable<Uint8Array>
    try {
      const res = await this.send<{ Body?: unknown }>(
        (s3) => new s3.GetObjectCommand({ Bucket: this.opts.bucket, Key: this.key(root) }),
        opts.signal ?? new AbortController().signal,
      )
      body = res.Body as AsyncIterable<Uint8Array>
    } catch (err) {
      if (opts.signal?.aborted) throw err
      throw this.error('get object', err)
    }
    yield* abortable(body, opts.signal)
  }

  async verify(root: CID): Promise<VerifyResult> {
    try {
      return await verifyCar(this.get(root), root)
    } catch (err) {
      return { ok: false, blocks: 0, bytes: 0, error: (err as Error).message }
    }
  }

  async unpin(root: CID): Promise<void> {
    try {
      await this.send(
        (s3) => new s3.DeleteObjectCommand({ Bucket: this.opts.bucket, Key: this.key(root) }),
        this.deadline(),
      )
    } catch (err) {
      if (!notFound(err)) throw this.error('delete object', err)
    }
  }

  async stat(): Promise<BackendStat> {
    let usedBytes = 0
    let pins = 0
    for await (const obj of this.objects()) {
      usedBytes += obj.size
      if (obj.root != null) pins++
    }
    return { usedBytes, pins }
  }

  /** Deletes CAR objects no pin wants and aborts multipart uploads left by dead writers. */
  async sweep(wanted: (root: string) => boolean, opts: { signal?: AbortSignal } = {}): Promise<SweptItem[]> {
    const swept: SweptItem[] = []
    for await (const obj of this.objects(opts.signal)) {
      if (obj.root == null || wanted(obj.root)) continue
      await this.send(
        (s3) => new s3.DeleteObjectCommand({ Bucket: this.opts.bucket, Key: obj.key }),
        this.deadline(opts.signal),
      )
      this.ctx.log(`removed an orphan object: ${obj.key} (${obj.size} bytes)`)
      swept.push({ name: obj.key, root: obj.root, kind: 'orphan', bytes: obj.size })
    }
    let keyMarker: string | undefined
    let uploadIdMarker: string | undefined
    do {
      const page = await this.send<ListMultipartUploadsCommandOutput>(
        (s3) =>
          new s3.ListMultipartUploadsCommand({
            Bucket: this.opts.bucket,
            Prefix: this.opts.prefix || undefined,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        this.deadline(opts.signal),
      )
      for (const u of page.Uploads ?? []) {
        if (u.Key == null || u.UploadId == null) continue
        if (u.Initiated != null && Date.now() - u.Initiated.getTime() < STALE_UPLOAD_MS) continue
        const { Key, UploadId } = u
        await this.send(
          (s3) => new s3.AbortMultipartUploadCommand({ Bucket: this.opts.bucket, Key, UploadId }),
          this.deadline(opts.signal),
        )
        this.ctx.log(`aborted a stale multipart upload of ${u.Key}`)
        const root = CAR_KEY.exec(u.Key.slice(this.opts.prefix.length))?.[1]
        swept.push({ name: u.Key, root, kind: 'temp', bytes: 0 })
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined
    } while (keyMarker != null)
    return swept
  }

  /** Every object under the prefix, a page at a time (a million pins are never listed at once). */
  private async *objects(signal?: AbortSignal): AsyncGenerator<{ key: string; root?: string; size: number }> {
    let token: string | undefined
    do {
      const page = await this.send<ListObjectsV2CommandOutput>(
        (s3) =>
          new s3.ListObjectsV2Command({
            Bucket: this.opts.bucket,
            Prefix: this.opts.prefix || undefined,
            ContinuationToken: token,
          }),
        this.deadline(signal),
      ).catch((err) => {
        throw this.error('list objects', err)
      })
      for (const o of page.Contents ?? []) {
        if (o.Key == null) continue
        const root = CAR_KEY.exec(o.Key.slice(this.opts.prefix.length))?.[1]
        yield { key: o.Key, root, size: o.Size ?? 0 }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token != null)
  }

  private deadline(signal?: AbortSignal): AbortSignal {
    const t = AbortSignal.timeout(this.opts.timeout_ms)
    return signal == null ? t : AbortSignal.any([signal, t])
  }

  /** The SDK's error, named and without anything that could carry a credential (no request dump). */
  private error(op: string, err: unknown): BackendError {
    const e = err as Error & { $metadata?: { httpStatusCode?: number }; Code?: string }
    const status = e.$metadata?.httpStatusCode
    const what = [e.name !== 'Error' ? e.name : undefined, status != null ? `HTTP ${status}` : undefined]
      .filter(Boolean)
      .join(', ')
    const message = redact(e.message ?? String(err), this.opts.secret_access_key)
    return new BackendError(`s3 backend ${this.name}: ${op}: ${message}${what !== '' ? ` (${what})` : ''}`)
  }
}

interface Sdk {
  s3: typeof import('@aws-sdk/client-s3')
  Upload: typeof import('@aws-sdk/lib-storage').Upload
  client: S3Client
}

function notFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } }
  return (
    e.name === 'NotFound' ||
    e.name === 'NoSuchKey' ||
    e.name === 'NoSuchBucket' ||
    e.$metadata?.httpStatusCode === 404
  )
}

function redact(message: string, secret: string | undefined): string {
  return secret == null || secret === '' ? message : message.split(secret).join('***')
}
