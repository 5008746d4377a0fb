/**
 * Stand-in for undici's llhttp WebAssembly build without SIMD
 * (lib/llhttp/llhttp-wasm.js, 72 KB) in the controller's bundle
 * (image/bundle-slim.ts). undici compiles the SIMD build first and falls back
 * to this one only where WebAssembly SIMD is unavailable (older ppc64 Node,
 * riscv64, UNDICI_NO_WASM_SIMD=1). The controller image is linux/amd64, where
 * Node 24 compiles the SIMD build; there the fallback is never reached. Where
 * it would be, the same SIMD build is tried again and the error says SIMD.
 */
module.exports = require('undici/lib/llhttp/llhttp_simd-wasm.js');
