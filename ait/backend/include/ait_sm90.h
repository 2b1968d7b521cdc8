// The PTX helpers our own Hopper kernels share (ait/ops/conv2d/conv3x3_rows.cu,
// ait/ops/stem/stem_rows.cu, ait/ops/stem/stem.cu): fp16 bit casts, cp.async, and, where the
// sm_90a feature set is compiled (AIT_SM90_WGMMA), the shared-memory matrix descriptor, the
// async-proxy fence, warpgroup barriers and the wgmma fence / commit / wait. The wgmma
// instructions themselves stay with their kernels: each uses one shape.
// Internal linkage (an anonymous namespace): one copy per translation unit, as in the kernels'
// own files, so model .so files loaded together never share a symbol of ours.
#pragma once

#include <cuda_fp16.h>
#include <cstdint>

// wgmma needs the arch-specific target (the project builds sm_90a for arch 90, sm_80 else)
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define AIT_SM90_WGMMA 1
#else
#define AIT_SM90_WGMMA 0
#endif

namespace {
namespace sm90 {

__device__ __forceinline__ uint32_t h2bits(__half2 v) { return *reinterpret_cast<uint32_t*>(&v); }
__device__ __forceinline__ __half2 bits2h(uint32_t v) { return *reinterpret_cast<__half2*>(&v); }

// 16 bytes global -> shared, zero-filled when !valid (src is then not read); sm_80+
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  const uint32_t d = static_cast<uint32_t>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(d), "l"(src),
               "r"(valid ? 16 : 0)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;" ::: "memory");
}
template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}
__device__ __forceinline__ void cp_async_wait_all() {
  asm volatile("cp.async.wait_all;" ::: "memory");
}

#if AIT_SM90_WGMMA
// A wgmma shared-memory matrix descriptor without swizzle: start address, leading and stride
// byte offsets, each in 16-byte units
__device__ __forceinline__ uint64_t smem_desc(uint32_t smem_addr, uint32_t lbo, uint32_t sbo) {
  return uint64_t((smem_addr & 0x3FFFF) >> 4) | uint64_t(lbo >> 4) << 16 |
         uint64_t(sbo >> 4) << 32;
}
// the 128 threads of warpgroup wg meet at named barrier 1 + wg (0 is __syncthreads')
__device__ __forceinline__ void bar_sync_wg(int wg) {
  asm volatile("bar.sync %0, 128;" ::"r"(1 + wg) : "memory");
}
// generic-proxy writes to shared memory made visible to the async proxy (wgmma operands)
__device__ __forceinline__ void fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
}
__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
}
template <int N> __device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}
// keeps the compiler from moving register accesses of d across the asm around it (cute's
// warpgroup_fence_operand)
template <int N> __device__ __forceinline__ void fence_operands(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
}
#endif  // AIT_SM90_WGMMA

}  // namespace sm90
}  // namespace
