// L2 prefetch of an op's constants (weights, bias) at the very start of its kernel, before
// ait_wait_prior_grids(). Under programmatic dependent launch a kernel starts while the one
// before it ends, and its first global loads after the wait would otherwise find ResNet-50's
// weights cold: 51 MB of fp16 constants do not stay in the H200's 50 MB L2 between calls, while
// an op profiled alone finds them warm (docs/results/h200-2026-12-02d). The prefetch reads no
// value (cp.async.bulk.prefetch.L2 only warms L2, the point of coherence), so issuing it ahead
// of the wait keeps ait_pdl.h's contract: nothing is read or written before the wait.
//
// Each CTA issues its share of the ranges: 4 KiB pieces dealt round-robin over the grid's CTAs
// and the first warp's lanes. sm_90+ only; a no-op below, for a null or misaligned range and
// for zero bytes (what the host side passes when AIT_WEIGHT_PREFETCH is an off value).
// -DAIT_NO_PREFETCH_CODE compiles it to nothing: tests/test_split_hopper.py then finds an
// entry's code the same as CUTLASS's own kernel's. The 3.x conv built unsplit
// (AIT_SPLIT_HOPPER=0) launches CUTLASS's kernel, which has no prefetch.
#pragma once
#include <cstddef>
#include <cstdint>

#include "ait_abi.h"
#include "ait_switch.h"

// At most two ranges (weights and bias), passed by value as a kernel parameter.
struct AitPrefetch {
  const void* ptr[2];
  unsigned long long bytes[2];
};

#if defined(__CUDACC__)
__device__ __forceinline__ void ait_prefetch_l2_share(const AitPrefetch& pf) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && !defined(AIT_NO_PREFETCH_CODE)
  constexpr unsigned long long kPiece = 4096;
  const unsigned tid = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  if (tid >= 32) return;
  const unsigned long long ctas = 1ull * gridDim.x * gridDim.y * gridDim.z;
  const unsigned long long cta =
      blockIdx.x + 1ull * gridDim.x * (blockIdx.y + 1ull * gridDim.y * blockIdx.z);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const char* base = static_cast<const char*>(pf.ptr[r]);
    const unsigned long long bytes = pf.bytes[r];
    if (base == nullptr || reinterpret_cast<std::uintptr_t>(base) % 16 != 0) continue;
    for (unsigned long long piece = cta + ctas * tid; piece * kPiece < bytes; piece += ctas * 32) {
      const unsigned long long off = piece * kPiece;
      const unsigned long long left = bytes - off;
      // a bulk prefetch moves a multiple of 16 bytes: a tail below 16 is left out (a hint)
      const unsigned size = static_cast<unsigned>((left < kPiece ? left : kPiece) & ~15ull);
      if (size != 0) {
        asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(base + off), "r"(size)
                     : "memory");
      }
    }
  }
#endif
}
#endif

// Host side: AIT_WEIGHT_PREFETCH is on unless it is an off value (ait_switch.h). Read once
// where a model is created (model_runtime.h, as AIT_PDL) and by a profiler at its start; the
// choice reaches a kernel's launcher as its args' `prefetch` member, so every launch of one
// model agrees.
inline bool ait_weight_prefetch_from_env() { return ait_switch_on("AIT_WEIGHT_PREFETCH"); }

// The kernel parameter for ranges [w, w + w_bytes) and [bias, bias + bias_bytes): zero bytes
// (nothing prefetched) when `on` is false.
inline AitPrefetch ait_prefetch_of(bool on, const void* w, size_t w_bytes, const void* bias,
                                   size_t bias_bytes) {
  AitPrefetch pf{{w, bias}, {0, 0}};
  if (on) {
    pf.bytes[0] = w ? w_bytes : 0;
    pf.bytes[1] = bias ? bias_bytes : 0;
  }
  return pf;
}

// An op's constants: a conv's weights [k, r, s, c] and bias [k], a GEMM's weights [n, k] and
// bias [n], all fp16.
inline AitPrefetch ait_prefetch_of(const AitConv2dArgs& a) {
  return ait_prefetch_of(a.prefetch != 0, a.w, size_t(a.k) * a.r * a.s * a.c * 2, a.bias,
                         size_t(a.k) * 2);
}
inline AitPrefetch ait_prefetch_of(const AitGemmArgs& a) {
  return ait_prefetch_of(a.prefetch != 0, a.w, size_t(a.n) * a.k * 2, a.bias, size_t(a.n) * 2);
}
