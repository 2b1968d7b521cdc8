// Max / average pooling over NHWC fp16. One block per output row (n, p); its threads stride
// over that row's q * (c / vec) vectors, so the index decode is 32-bit and division-light
// (64-bit div/mod per element made the ResNet stem pool ~2x slower than bandwidth).
#include <cuda_fp16.h>
#include <cfloat>
#include <cstdint>
#include "ait_abi.h"
#include "ait_pdl.h"
#include "ait_nan.h"

namespace {

struct PoolShape {
  int h, w, c, p, q, kh, kw, sh, sw, ph, pw;
};

// Vec = 8 halves (16-byte loads, max only) or 2 halves (max or average).
template <int kVec> struct VecOf;
template <> struct VecOf<8> { using T = uint4; };
template <> struct VecOf<2> { using T = __half2; };

template <bool kMax, int kVec>
__global__ void pool2d_nhwc_kernel(const typename VecOf<kVec>::T* __restrict__ x,
                                   typename VecOf<kVec>::T* __restrict__ y, PoolShape s) {
  ait_wait_prior_grids();  // first: the kernel may start early (ait_pdl.h)
  using V = typename VecOf<kVec>::T;
  constexpr int kPairs = kVec / 2;
  const int cv = s.c / kVec;
  const int row = blockIdx.x;  // n * p + op
  const int on = row / s.p, op = row % s.p;
  const int ih0 = op * s.sh - s.ph;
  const V* xn = x + int64_t(on) * s.h * s.w * cv;
  V* yrow = y + int64_t(row) * s.q * cv;
  for (int t = threadIdx.x; t < s.q * cv; t += blockDim.x) {
    const int oq = t / cv, ch = t - oq * cv;
    const int iw0 = oq * s.sw - s.pw;
    float2 acc[kPairs];
#pragma unroll
    for (int k = 0; k < kPairs; ++k) acc[k] = kMax ? make_float2(-FLT_MAX, -FLT_MAX)
                                                   : make_float2(0.f, 0.f);
    for (int i = 0; i < s.kh; ++i) {
      const int ih = ih0 + i;
      if (ih < 0 || ih >= s.h) continue;
      for (int j = 0; j < s.kw; ++j) {
        const int iw = iw0 + j;
        if (iw < 0 || iw >= s.w) continue;
        V v = xn[(ih * s.w + iw) * cv + ch];
        const __half2* hv = reinterpret_cast<const __half2*>(&v);
#pragma unroll
        for (int k = 0; k < kPairs; ++k) {
          const float2 f = __half22float2(hv[k]);
          if (kMax) { acc[k].x = ait_max(acc[k].x, f.x); acc[k].y = ait_max(acc[k].y, f.y); }
          else { acc[k].x += f.x; acc[k].y += f.y; }
        }
      }
    }
    V out;
    __half2* ho = reinterpret_cast<__half2*>(&out);
    const float scale = kMax ? 1.f : 1.f / float(s.kh * s.kw);  // count_include_pad=True
#pragma unroll
    for (int k = 0; k < kPairs; ++k) ho[k] = __floats2half2_rn(acc[k].x * scale, acc[k].y * scale);
    yrow[t] = out;
  }
}

// Global average pool (kernel = whole image, no padding): one block per (n, channel chunk),
// threads stride over H*W so the reduction reads memory coalesced along C. `early`: let the
// next kernel launch now (with the weight prefetch on: the classifier after this pool then
// prefetches its weights while the pool runs, ait_prefetch.h; a small grid leaves it room).
__global__ void global_avg_pool_nhwc_kernel(const __half* __restrict__ x, __half* __restrict__ y,
                                            int hw, int c, int early) {
  ait_wait_prior_grids();  // first: the kernel may start early (ait_pdl.h)
  if (early) ait_launch_dependents();
  const int on = blockIdx.y;
  const int ch = blockIdx.x * blockDim.x + threadIdx.x;  // channel pair index
  if (ch >= c / 2) return;
  const __half2* base = reinterpret_cast<const __half2*>(x + int64_t(on) * hw * c);
  float a0 = 0.f, a1 = 0.f;
  for (int i = 0; i < hw; ++i) {
    const float2 f = __half22float2(base[int64_t(i) * (c / 2) + ch]);
    a0 += f.x; a1 += f.y;
  }
  reinterpret_cast<__half2*>(y + int64_t(on) * c)[ch] = __floats2half2_rn(a0 / hw, a1 / hw);
}

template <bool kMax, int kVec>
void launch(const void* x, void* y, int rows, const PoolShape& s, cudaStream_t stream) {
  using V = typename VecOf<kVec>::T;
  const int work = s.q * (s.c / kVec);
  const int block = work >= 256 ? 256 : ((work + 31) / 32) * 32;
  pool2d_nhwc_kernel<kMax, kVec><<<rows, block, 0, stream>>>(
      static_cast<const V*>(x), static_cast<V*>(y), s);
}

}  // namespace

extern "C" int ait_pool2d_nhwc(int is_max, const void* x, void* y, int n, int h, int w, int c,
                               int p, int q, int kh, int kw, int sh, int sw, int ph, int pw,
                               int prefetch, cudaStream_t stream) {
  if (c % 2 != 0 || reinterpret_cast<uintptr_t>(x) % 4 || reinterpret_cast<uintptr_t>(y) % 4)
    return AIT_ERR_CANNOT_IMPLEMENT;
  if (n <= 0 || p <= 0 || q <= 0) return AIT_OK;
  // One block per output row: n * p must fit the grid's x dimension (2^31 - 1).
  if (int64_t(n) * p > INT32_MAX || int64_t(h) * w * c > INT32_MAX) return AIT_ERR_CANNOT_IMPLEMENT;
  const PoolShape s{h, w, c, p, q, kh, kw, sh, sw, ph, pw};
  const int rows = n * p;
  if (!is_max && p == 1 && q == 1 && kh == h && kw == w && ph == 0 && pw == 0) {
    dim3 grid((c / 2 + 127) / 128, n);
    global_avg_pool_nhwc_kernel<<<grid, 128, 0, stream>>>(static_cast<const __half*>(x),
                                                          static_cast<__half*>(y), h * w, c,
                                                          prefetch ? 1 : 0);
  } else if (is_max && c % 8 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
             reinterpret_cast<uintptr_t>(y) % 16 == 0) {
    launch<true, 8>(x, y, rows, s, stream);
  } else if (is_max) {
    launch<true, 2>(x, y, rows, s, stream);
  } else {
    launch<false, 2>(x, y, rows, s, stream);
  }
  return cudaPeekAtLastError() == cudaSuccess ? AIT_OK : AIT_ERR_LAUNCH;
}
