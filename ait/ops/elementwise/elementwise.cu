// Unfused elementwise fallbacks (fusion folds them into conv/gemm epilogues in ResNets):
// y = a + b with b broadcast over leading dims (b has `b_size` elements, a has `size`),
// and y = relu(x).
#include <cuda_fp16.h>
#include <cstdint>
#include "ait_abi.h"
#include "ait_pdl.h"
#include "ait_nan.h"

namespace {
__global__ void add_kernel(const __half* a, const __half* b, __half* y, int64_t size,
                           int64_t b_size) {
  ait_wait_prior_grids();  // first: the kernel may start early (ait_pdl.h)
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < size;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = __float2half(__half2float(a[i]) + __half2float(b[i % b_size]));
}
__global__ void relu_kernel(const __half* x, __half* y, int64_t size) {
  ait_wait_prior_grids();  // first: the kernel may start early (ait_pdl.h)
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < size;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = __float2half(ait_relu(__half2float(x[i])));
}
int grid_for(int64_t n) {
  const int64_t g = (n + 255) / 256;
  return int(g < 65535 * 8 ? (g > 0 ? g : 1) : 65535 * 8);
}
}  // namespace

extern "C" int ait_add(const void* a, const void* b, void* y, int64_t size, int64_t b_size,
                       cudaStream_t stream) {
  if (b_size <= 0 || size % b_size != 0) return AIT_ERR_CANNOT_IMPLEMENT;
  add_kernel<<<grid_for(size), 256, 0, stream>>>(static_cast<const __half*>(a),
                                                 static_cast<const __half*>(b),
                                                 static_cast<__half*>(y), size, b_size);
  return cudaPeekAtLastError() == cudaSuccess ? AIT_OK : AIT_ERR_LAUNCH;
}

extern "C" int ait_relu(const void* x, void* y, int64_t size, cudaStream_t stream) {
  relu_kernel<<<grid_for(size), 256, 0, stream>>>(static_cast<const __half*>(x),
                                                  static_cast<__half*>(y), size);
  return cudaPeekAtLastError() == cudaSuccess ? AIT_OK : AIT_ERR_LAUNCH;
}
