import * as z from 'zod'
import { BACKEND_NAME, type Config, configSchema } from '../config/config.ts'
import { InvalidInputError } from '../errors.ts'
import type { Repo } from '../repo.ts'
import { FilesystemBackend, FilesystemOptions } from './filesystem.ts'
import { IpfsClusterBackend, IpfsClusterOptions } from './ipfs-cluster.ts'
import { KuboBackend, KuboOptions } from './kubo.ts'
import { LocalBackend } from './local.ts'
import { PinningServiceBackend, PinningServiceOptions } from './pinning-service.ts'
import { S3Backend, S3Options } from './s3.ts'
import type { Backend, BackendContext } from './types.ts'

export interface BackendType<S extends z.ZodTypeAny> {
  options: S
  create(options: z.infer<S>, ctx: BackendContext): Backend
}

function type<S extends z.ZodTypeAny>(t: BackendType<S>): BackendType<S> {
  return t
}

/** Every configurable backend type. Adding one is a new file and one line here. */
const TYPES: Record<string, BackendType<z.ZodTypeAny>> = {
  filesystem: type({ options: FilesystemOptions, create: (o, ctx) => new FilesystemBackend(o, ctx) }),
  'ipfs-cluster': type({ options: IpfsClusterOptions, create: (o, ctx) => new IpfsClusterBackend(o, ctx) }),
  kubo: type({ options: KuboOptions, create: (o, ctx) => new KuboBackend(o, ctx) }),
  'pinning-service': type({
    options: PinningServiceOptions,
    create: (o, ctx) => new PinningServiceBackend(o, ctx),
  }),
  s3: type({ options: S3Options, create: (o, ctx) => new S3Backend(o, ctx) }),
}

/** Builds the backends from config: `local` first, then each configured one, validated by its type. */
export function buildBackends(
  repo: Repo,
  config: Config,
  ctxFor: (name: string) => BackendContext,
): Backend[] {
  const backends: Backend[] = [new LocalBackend(repo, ctxFor('local'))]
  const seen = new Set(['local'])
  config.backends.forEach((entry, i) => {
    const key = `backends[${i}]`
    if (seen.has(entry.name))
      throw new InvalidInputError(`invalid config key "${key}.name": "${entry.name}" is used twice`)
    seen.add(entry.name)
    backends.push(buildBackend(entry, ctxFor(entry.name), key))
  })
  return backends
}

/**
 * Validates one backend's config entry by its type's schema and builds it (not started). `key` names
 * the entry in messages (`backends[2]`). Throws InvalidInputError naming the key and what is wrong.
 */
export function buildBackend(entry: Record<string, unknown>, ctx: BackendContext, key = 'backend'): Backend {
  const { failure_domain, ...options } = checkBackendEntry(entry, key)
  const backend = typeOf(entry, key).create(options, ctx)
  if (typeof failure_domain === 'string') backend.failureDomain = failure_domain
  return backend
}

/** Options every backend type takes besides its own. */
const CommonOptions = z.object({
  /** A rack, host or region: replicas in one domain count once toward min_replicas (see Reconciler). */
  failure_domain: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_", ":" or "-"')
    .optional(),
})

/** The options of a backend entry, validated by its type (defaults filled in); throws InvalidInputError. */
export function checkBackendEntry(entry: Record<string, unknown>, key = 'backend'): Record<string, unknown> {
  const t = typeOf(entry, key)
  const { failure_domain, ...own } = entry
  const common = CommonOptions.safeParse({ failure_domain })
  const parsed = t.options.safeParse(own)
  for (const result of [common, parsed]) {
    if (!result.success) {
      const issue = result.error.issues[0]!
      throw new InvalidInputError(`invalid config key "${key}.${issue.path.join('.')}": ${issue.message}`)
    }
  }
  return { ...(parsed.data as Record<string, unknown>), ...common.data }
}

function typeOf(entry: Record<string, unknown>, key: string): BackendType<z.ZodTypeAny> {
  if (entry.name === 'local')
    throw new InvalidInputError(`invalid config key "${key}.name": "local" is the embedded node's`)
  const t = typeof entry.type === 'string' ? TYPES[entry.type] : undefined
  if (t == null) {
    throw new InvalidInputError(
      `invalid config key "${key}.type": unknown backend type "${String(entry.type)}" (known: ${Object.keys(TYPES).join(', ')})`,
    )
  }
  return t
}

/**
 * Adds a backend type at run time: for a plug-in, or for a test or benchmark that needs a backend
 * no real device gives on demand (one whose probe never answers). Refuses to replace a type.
 */
export function registerBackendType<S extends z.ZodTypeAny>(name: string, t: BackendType<S>): void {
  if (name === 'local' || TYPES[name] != null) throw new InvalidInputError(`backend type "${name}" exists`)
  TYPES[name] = t as unknown as BackendType<z.ZodTypeAny>
}

export function backendTypes(): string[] {
  return ['local', ...Object.keys(TYPES)]
}

/**
 * A backend config entry as JSON Schema (OpenAPI 3.0): one alternative per type, each its own
 * keys plus `failure_domain`, for the API's document (POST /backends).
 */
export function backendEntrySchema(): Record<string, unknown> {
  return {
    oneOf: Object.entries(TYPES).map(([name, t]) => {
      const s = z.toJSONSchema(t.options, { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' }) as {
        properties?: Record<string, unknown>
      }
      return {
        ...s,
        title: name,
        properties: {
          ...s.properties,
          // "local" is the embedded node's, always there
          name: { type: 'string', pattern: BACKEND_NAME.source, not: { enum: ['local'] } },
          failure_domain: z.toJSONSchema(CommonOptions.shape.failure_domain, {
            target: 'openapi-3.0',
            io: 'input',
          }),
        },
      }
    }),
  }
}

/**
 * config.json's keys as PUT /config takes them, for the OpenAPI document: every key optional (a
 * change names only what it changes), each as validated, `backends` as {@link backendEntrySchema}.
 */
export function configFileSchema(): Record<string, unknown> {
  const s = z.toJSONSchema(configSchema(), {
    target: 'openapi-3.0',
    io: 'input',
    unrepresentable: 'any',
  }) as {
    properties: Record<string, unknown>
  }
  return { ...s, properties: { ...s.properties, backends: { type: 'array', items: backendEntrySchema() } } }
}
