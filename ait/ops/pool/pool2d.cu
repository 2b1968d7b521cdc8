// Max / average pooling over NHWC fp16, one thread per 2 output channels (half2).
// Memory-bound: each output reads kernel_h*kernel_w inputs; ResNet's maxpool is one launch.
#include <cuda_fp16.h>
#include <cfloat>
#include <cstdint>
#include "ait_abi.h"

namespace {

template <bool kMax>
__global__ void pool2d_nhwc_kernel(const __half* __restrict__ x, __half* __restrict__ y, int n,
                                   int h, int w, int c, int p, int q, int kh, int kw, int sh,
                                   int sw, int ph, int pw) {
  const int c2 = c / 2;
  const int64_t total = int64_t(n) * p * q * c2;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int ch = int(idx % c2);
    int64_t rest = idx / c2;
    const int oq = int(rest % q);
    rest /= q;
    const int op = int(rest % p);
    const int on = int(rest / p);
    float a0 = kMax ? -FLT_MAX : 0.f, a1 = a0;
    for (int i = 0; i < kh; ++i) {
      const int ih = op * sh - ph + i;
      if (ih < 0 || ih >= h) continue;
      for (int j = 0; j < kw; ++j) {
        const int iw = oq * sw - pw + j;
        if (iw < 0 || iw >= w) continue;
        const __half2 v = reinterpret_cast<const __half2*>(
            x + ((int64_t(on) * h + ih) * w + iw) * c)[ch];
        const float2 f = __half22float2(v);
        if (kMax) { a0 = fmaxf(a0, f.x); a1 = fmaxf(a1, f.y); }
        else { a0 += f.x; a1 += f.y; }
      }
    }
    if (!kMax) {  // count_include_pad=True (PyTorch's default)
      const float inv = 1.f / float(kh * kw);
      a0 *= inv; a1 *= inv;
    }
    reinterpret_cast<__half2*>(y + ((int64_t(on) * p + op) * q + oq) * c)[ch] =
        __floats2half2_rn(a0, a1);
  }
}

// Max pooling, 8 channels per thread (16-byte loads): the ResNet stem pool at large batch is
// memory-bound, and wide accesses keep it near bandwidth.
__global__ void max_pool2d_nhwc_vec8_kernel(const uint4* __restrict__ x, uint4* __restrict__ y,
                                            int n, int h, int w, int c8, int p, int q, int kh,
                                            int kw, int sh, int sw, int ph, int pw) {
  const int64_t total = int64_t(n) * p * q * c8;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int ch = int(idx % c8);
    int64_t rest = idx / c8;
    const int oq = int(rest % q);
    rest /= q;
    const int op = int(rest % p);
    const int on = int(rest / p);
    __half2 acc[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) acc[i] = __float2half2_rn(-65504.f);
    for (int i = 0; i < kh; ++i) {
      const int ih = op * sh - ph + i;
      if (ih < 0 || ih >= h) continue;
      for (int j = 0; j < kw; ++j) {
        const int iw = oq * sw - pw + j;
        if (iw < 0 || iw >= w) continue;
        uint4 v = x[((int64_t(on) * h + ih) * w + iw) * c8 + ch];
        const __half2* hv = reinterpret_cast<const __half2*>(&v);
#pragma unroll
        for (int k = 0; k < 4; ++k) acc[k] = __hmax2(acc[k], hv[k]);
      }
    }
    y[((int64_t(on) * p + op) * q + oq) * c8 + ch] = *reinterpret_cast<uint4*>(acc);
  }
}

// Global average pool (kernel = whole image, no padding): one block per (n, channel chunk),
// threads stride over H*W so the reduction reads memory coalesced along C.
__global__ void global_avg_pool_nhwc_kernel(const __half* __restrict__ x, __half* __restrict__ y,
                                            int hw, int c) {
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

}  // namespace

extern "C" int ait_pool2d_nhwc(int is_max, const void* x, void* y, int n, int h, int w, int c,
                               int p, int q, int kh, int kw, int sh, int sw, int ph, int pw,
                               cudaStream_t stream) {
  if (c % 2 != 0 || reinterpret_cast<uintptr_t>(x) % 4 || reinterpret_cast<uintptr_t>(y) % 4)
    return AIT_ERR_CANNOT_IMPLEMENT;
  const __half* xi = static_cast<const __half*>(x);
  __half* yo = static_cast<__half*>(y);
  if (!is_max && p == 1 && q == 1 && kh == h && kw == w && ph == 0 && pw == 0) {
    dim3 grid((c / 2 + 127) / 128, n);
    global_avg_pool_nhwc_kernel<<<grid, 128, 0, stream>>>(xi, yo, h * w, c);
  } else if (is_max && c % 8 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
             reinterpret_cast<uintptr_t>(y) % 16 == 0) {
    const int64_t total = int64_t(n) * p * q * (c / 8);
    const int64_t want = (total + 255) / 256;
    const int grid = int(want < 65535 * 8 ? want : 65535 * 8);
    max_pool2d_nhwc_vec8_kernel<<<grid, 256, 0, stream>>>(
        static_cast<const uint4*>(x), static_cast<uint4*>(y), n, h, w, c / 8, p, q, kh, kw, sh,
        sw, ph, pw);
  } else {
    const int64_t total = int64_t(n) * p * q * (c / 2);
    const int block = 256;
    const int grid = int((total + block - 1) / block < 65535 * 4 ? (total + block - 1) / block
                                                                  : 65535 * 4);
    if (is_max)
      pool2d_nhwc_kernel<true><<<grid, block, 0, stream>>>(xi, yo, n, h, w, c, p, q, kh, kw, sh,
                                                           sw, ph, pw);
    else
      pool2d_nhwc_kernel<false><<<grid, block, 0, stream>>>(xi, yo, n, h, w, c, p, q, kh, kw, sh,
                                                            sw, ph, pw);
  }
  return cudaPeekAtLastError() == cudaSuccess ? AIT_OK : AIT_ERR_LAUNCH;
}
