import { ErrorBody } from '../errors.ts'

/** A JSON object passed through from the daemon (its own OpenAPI documents the fields). */
export const Passthrough = { type: 'object', additionalProperties: true } as const

export const PolicySchema = {
  type: 'object',
  properties: {
    min_replicas: { type: 'integer', minimum: 1, maximum: 64 },
    max_replicas: { type: 'integer', minimum: 1, maximum: 64 },
    preferred: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 64 },
    excluded: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 64 },
  },
  additionalProperties: false,
} as const

export const NameParam = {
  type: 'object',
  properties: { name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' } },
  required: ['name'],
} as const

/** Error answers every management route may give: bad input, no token, daemon down. */
export const ManagementErrors = { 400: ErrorBody, 401: ErrorBody, 503: ErrorBody } as const
