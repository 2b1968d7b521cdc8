// Zero-pad the channel dim of an NHWC fp16 tensor: [.., c] -> [.., c_out]. Used on the RGB
// input so the stem conv can use FixedChannels (4 or 8) kernels.
#include <cuda_fp16.h>
#include <cstdint>
#include "ait_abi.h"
#include "ait_pdl.h"

namespace {
__global__ void pad_channels_kernel(const __half* __restrict__ x, __half* __restrict__ y,
                                    int64_t pixels, int c, int c_out) {
  ait_wait_prior_grids();  // first: the kernel may start early (ait_pdl.h)
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < pixels * c_out;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int ch = int(i % c_out);
    const int64_t px = i / c_out;
    y[i] = ch < c ? x[px * c + ch] : __float2half(0.f);
  }
}
// One thread per pixel for the common stem case (c_out 4 or 8): one 8- or 16-byte store.
template <int kOut>
__global__ void pad_pixels_kernel(const __half* __restrict__ x, __half* __restrict__ y,
                                  int64_t pixels, int c) {
  ait_wait_prior_grids();  // first: the kernel may start early (ait_pdl.h)
  for (int64_t px = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; px < pixels;
       px += int64_t(gridDim.x) * blockDim.x) {
    __align__(16) __half v[kOut];
#pragma unroll
    for (int i = 0; i < kOut; ++i) v[i] = i < c ? x[px * c + i] : __float2half(0.f);
    if (kOut == 4) reinterpret_cast<uint2*>(y)[px] = *reinterpret_cast<uint2*>(v);
    else reinterpret_cast<uint4*>(y)[px] = *reinterpret_cast<uint4*>(v);
  }
}
}  // namespace

extern "C" int ait_pad_channels(const void* x, void* y, int64_t pixels, int c, int c_out,
                                cudaStream_t stream) {
  if (c > c_out) return AIT_ERR_CANNOT_IMPLEMENT;
  if ((c_out == 4 || c_out == 8) && reinterpret_cast<uintptr_t>(y) % (2 * c_out) == 0) {
    const int64_t want = (pixels + 255) / 256;
    const int grid = int(want < 65535 * 8 ? want : 65535 * 8);
    if (c_out == 4)
      pad_pixels_kernel<4><<<grid, 256, 0, stream>>>(static_cast<const __half*>(x),
                                                     static_cast<__half*>(y), pixels, c);
    else
      pad_pixels_kernel<8><<<grid, 256, 0, stream>>>(static_cast<const __half*>(x),
                                                     static_cast<__half*>(y), pixels, c);
    return cudaPeekAtLastError() == cudaSuccess ? AIT_OK : AIT_ERR_LAUNCH;
  }
  const int64_t total = pixels * c_out;
  const int block = 256;
  const int64_t want = (total + block - 1) / block;
  const int grid = int(want < 65535 * 8 ? want : 65535 * 8);
  pad_channels_kernel<<<grid, block, 0, stream>>>(static_cast<const __half*>(x),
                                                  static_cast<__half*>(y), pixels, c, c_out);
  return cudaPeekAtLastError() == cudaSuccess ? AIT_OK : AIT_ERR_LAUNCH;
}
