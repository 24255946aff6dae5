import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'
import Components from 'unplugin-vue-components/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

// The app is served by the Go binary at / (api/home.go); `npm run dev` proxies the API to a
// server on :8080 (`go run ./cmd/tracecraft serve`).
export default defineConfig({
  plugins: [
    vue(),
    // Element Plus on demand: each component and its CSS enter the chunk of the route using it.
    Components({ resolvers: [ElementPlusResolver({ importStyle: 'css' })], dts: false }),
  ],
  define: {
    __VUE_OPTIONS_API__: 'false',
    __VUE_PROD_DEVTOOLS__: 'false',
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
    __VUE_I18N_FULL_INSTALL__: 'false',
    __VUE_I18N_LEGACY_API__: 'false',
    __INTLIFY_PROD_DEVTOOLS__: 'false',
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8080', '/healthz': 'http://127.0.0.1:8080' },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    // The Go side serves index.html with no-cache and assets/ for a year: names must be hashed.
    rollupOptions: { output: { entryFileNames: 'assets/[name]-[hash].js', chunkFileNames: 'assets/[name]-[hash].js', assetFileNames: 'assets/[name]-[hash][extname]' } },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    // Components mounted in specs import Element Plus's styles (the resolver adds them): let
    // Vite, not Node, load that package so its .css imports resolve.
    server: { deps: { inline: ['element-plus'] } },
  },
})
