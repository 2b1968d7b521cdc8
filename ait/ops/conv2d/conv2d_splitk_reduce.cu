// The reduction of a parallel split-K conv2d (ops/conv2d/splitk.py): the conv's S slices
// of the GEMM-K (R*S*C) loop each wrote their fp32 partial sums of y [M = n*p*q, K] into
// `partials` [S, M, K]; the second kernel (`reduce`), or in the cluster form the conv's own
// CTAs after a cluster barrier (`reduce_tile_share`), sum them in fp32 and apply the epilogue:
//   y = act(sum_s partials[s] + bias[k] (+ residual)),  act = ReLU or identity,  y fp16.
// (bias first, then the residual, then ReLU: Conv2d.reference, and CUTLASS's
// LinearCombinationResidualBlock in the unsplit kernels.)
// Each thread handles V consecutive outputs of one row (V = the output alignment, 8 / 4 / 2
// fp16: K % V == 0): 16-byte fp16 loads and stores and float4 partial loads at V = 8.
//
// Compiled as part of every split-K candidate's translation unit (its text is pasted into the
// rendered source, so it is part of the candidate's hash); the guard keeps one copy when the
// sources of several candidates share a translation unit. Compiles alone too (a test does).
#ifndef AIT_CONV2D_SPLITK_REDUCE_CU
#define AIT_CONV2D_SPLITK_REDUCE_CU

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "ait_pdl.h"
#include "ait_nan.h"

namespace ait_conv2d_splitk {

// V fp32 values from `p` (4 * V bytes, aligned to min(16, 4 * V)), cached in L2 only: the
// partials were just written by the conv and are read once.
template <int V>
__device__ __forceinline__ void load_f32(const float* p, float (&out)[V]) {
  if constexpr (V % 4 == 0) {
#pragma unroll
    for (int i = 0; i < V; i += 4) {
      float4 t = __ldcg(reinterpret_cast<const float4*>(p + i));
      out[i] = t.x; out[i + 1] = t.y; out[i + 2] = t.z; out[i + 3] = t.w;
    }
  } else {
    static_assert(V == 2, "2, 4 or 8 values per thread");
    float2 t = __ldcg(reinterpret_cast<const float2*>(p));
    out[0] = t.x; out[1] = t.y;
  }
}

// One vector of V fp16 values (2 * V bytes: 16, 8 or 4).
template <int V>
using HalfWord = std::conditional_t<V == 8, uint4, std::conditional_t<V == 4, uint2, unsigned>>;

template <int V>
__device__ __forceinline__ void load_f16(const __half* p, float (&out)[V]) {
  HalfWord<V> w = *reinterpret_cast<const HalfWord<V>*>(p);
  const __half2* h = reinterpret_cast<const __half2*>(&w);
#pragma unroll
  for (int i = 0; i < V / 2; ++i) {
    float2 f = __half22float2(h[i]);
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}

template <int V>
__device__ __forceinline__ void store_f16(__half* p, const float (&in)[V]) {
  HalfWord<V> w;
  __half2* h = reinterpret_cast<__half2*>(&w);
#pragma unroll
  for (int i = 0; i < V / 2; ++i) h[i] = __floats2half2_rn(in[2 * i], in[2 * i + 1]);
  *reinterpret_cast<HalfWord<V>*>(p) = w;
}

// Output vector i (V outputs from flat index i of [m, k]): the sum of the `splits` partials
// [splits, slice = m * k] fp32, + bias[k] (+ residual), (ReLU), stored to y as fp16.
template <int V, bool kResidual, bool kRelu>
__device__ __forceinline__ void reduce_vector(const float* __restrict__ partials, int splits,
                                              int64_t slice, int k, const __half* __restrict__ bias,
                                              const __half* __restrict__ residual,
                                              __half* __restrict__ y, int64_t i) {
  float acc[V];
  load_f32<V>(partials + i, acc);
#pragma unroll 4
  for (int s = 1; s < splits; ++s) {
    float t[V];
    load_f32<V>(partials + s * slice + i, t);
#pragma unroll
    for (int j = 0; j < V; ++j) acc[j] += t[j];
  }
  float b[V];
  load_f16<V>(bias + i % k, b);
#pragma unroll
  for (int j = 0; j < V; ++j) acc[j] += b[j];
  if constexpr (kResidual) {
    float r[V];
    load_f16<V>(residual + i, r);
#pragma unroll
    for (int j = 0; j < V; ++j) acc[j] += r[j];
  }
  if constexpr (kRelu) {
#pragma unroll
    for (int j = 0; j < V; ++j) acc[j] = ait_relu(acc[j]);
  }
  store_f16<V>(y + i, acc);
}

// partials [splits, m * k] fp32; bias [k], residual [m * k] (kResidual), y [m * k] fp16.
template <int V, bool kResidual, bool kRelu>
__global__ void __launch_bounds__(256)
reduce(const float* __restrict__ partials, int splits, int64_t slice, int k,
       const __half* __restrict__ bias, const __half* __restrict__ residual,
       __half* __restrict__ y) {
  ait_wait_prior_grids();
  const int64_t vectors = slice / V;
  for (int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; v < vectors;
       v += int64_t(gridDim.x) * blockDim.x) {
    reduce_vector<V, kResidual, kRelu>(partials, splits, slice, k, bias, residual, y, v * V);
  }
}

// The cluster reduction (splitk.py, `cluster`): CTA `rank` of the `splits` CTAs that computed
// output tile [m0, m0 + tm) x [n0, n0 + tn) of [m, k] reduces the rank-th share of the tile's
// vectors (rows clipped at m, columns at k; k % V == 0, tn % V == 0).
template <int V, bool kResidual, bool kRelu>
__device__ __forceinline__ void reduce_tile_share(const float* __restrict__ partials, int splits,
                                                  int64_t m, int k, int64_t m0, int n0, int tm,
                                                  int tn, int rank,
                                                  const __half* __restrict__ bias,
                                                  const __half* __restrict__ residual,
                                                  __half* __restrict__ y) {
  const int rows = int(m - m0 < tm ? m - m0 : tm);
  const int cols = (k - n0 < tn ? k - n0 : tn) / V;  // vectors per row
  const int total = rows * cols;
  const int share = (total + splits - 1) / splits;
  const int end = (rank + 1) * share < total ? (rank + 1) * share : total;
  for (int v = rank * share + int(threadIdx.x); v < end; v += int(blockDim.x)) {
    const int64_t i = (m0 + v / cols) * k + n0 + (v % cols) * V;
    reduce_vector<V, kResidual, kRelu>(partials, splits, m * k, k, bias, residual, y, i);
  }
}

// Threads per block: 256, halved (down to 64) while that leaves fewer than 264 blocks, so a
// small output (batch 1: 49 x 512 = 3136 vectors) still spreads over many SMs.
inline int reduce_threads(int64_t vectors) {
  int threads = 256;
  while (threads > 64 && (vectors + threads - 1) / threads < 264) threads /= 2;
  return threads;
}

// Launches the reduction of `splits` slices of an [m, k] output on `stream`. Needs k % V == 0,
// `partials` 16-byte aligned, bias / residual / y aligned to 2 * V bytes (the caller checks).
template <int V, bool kResidual, bool kRelu>
inline cudaError_t launch_reduce(const float* partials, int splits, int64_t m, int k,
                                 const void* bias, const void* residual, void* y,
                                 cudaStream_t stream) {
  const int64_t slice = m * k;
  const int64_t vectors = slice / V;
  if (vectors == 0) return cudaSuccess;
  const int threads = reduce_threads(vectors);
  const int64_t blocks = (vectors + threads - 1) / threads;
  const unsigned grid = unsigned(blocks < (int64_t(1) << 20) ? blocks : (int64_t(1) << 20));
  reduce<V, kResidual, kRelu><<<grid, threads, 0, stream>>>(
      partials, splits, slice, k, static_cast<const __half*>(bias),
      static_cast<const __half*>(residual), static_cast<__half*>(y));
  return cudaPeekAtLastError();
}

}  // namespace ait_conv2d_splitk

#endif  // AIT_CONV2D_SPLITK_REDUCE_CU
