import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

// `npm run build` builds the dashboard into dist/dashboard, which the server serves at `/`.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/dashboard', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
  },
})
