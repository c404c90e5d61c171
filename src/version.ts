import { readFileSync } from 'node:fs'

/** Set by the CLI bundle at build time (scripts/build-cli.mjs); absent in tsc's output and under tsx. */
declare const IPFS_KIT_VERSION: string | undefined

/** The package version: built into the CLI bundle, else read once from package.json. */
export const version: string =
  typeof IPFS_KIT_VERSION === 'string'
    ? IPFS_KIT_VERSION
    : (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
        .version
