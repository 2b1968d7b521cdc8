// The C ABI shared by every generated kernel, the profilers and the model runtime.
// Each kernel instance NAME is compiled in its own translation unit and exports:
//   int    NAME(const Ait<Family>Args* args, void* workspace, size_t workspace_bytes,
//              cudaStream_t stream);          // AIT_OK or an AitStatus; never throws
//   size_t NAME_workspace_bytes(const Ait<Family>Args* args);
// What the profiler times is exactly what the model links.
#pragma once
#include <cstddef>
#include <cuda_runtime.h>

extern "C" {

typedef enum AitStatus {
  AIT_OK = 0,
  AIT_ERR_CANNOT_IMPLEMENT = 1,  // shape/alignment not supported by this kernel
  AIT_ERR_WORKSPACE = 2,         // workspace too small
  AIT_ERR_INTERNAL = 3,          // initialize() failed
  AIT_ERR_LAUNCH = 4,            // run() failed / launch error
} AitStatus;

// y[n,p,q,k] = act(conv(x, w) + bias[k] (+ residual[n,p,q,k]))
// x: NHWC [n,h,w,c]; w: OHWI [k,r,s,c]; all fp16, contiguous.
typedef struct AitConv2dArgs {
  const void* x;
  const void* w;
  const void* bias;      // [k], never null
  const void* residual;  // [n,p,q,k] for residual epilogues, else null
  void* y;
  int n, h, w_, c;       // input  (w_ because w is the weight pointer)
  int k, r, s;           // filter
  int p, q;              // output height, width
  int pad_h, pad_w, stride_h, stride_w, dilation_h, dilation_w;
  int prefetch;          // launch option, not the problem's: ait_prefetch.h
} AitConv2dArgs;

// y[m,n] = act(x[m,k] @ w[n,k]^T + bias[n])   (row-major x, "column-major" w: gemm_rcr)
typedef struct AitGemmArgs {
  const void* x;
  const void* w;
  const void* bias;      // [n], never null
  void* y;
  int m, n, k;
  int prefetch;          // launch option, not the problem's: ait_prefetch.h
} AitGemmArgs;

typedef int (*AitConv2dFn)(const AitConv2dArgs*, void*, size_t, cudaStream_t);
typedef size_t (*AitConv2dWorkspaceFn)(const AitConv2dArgs*);
typedef int (*AitGemmFn)(const AitGemmArgs*, void*, size_t, cudaStream_t);
typedef size_t (*AitGemmWorkspaceFn)(const AitGemmArgs*);

}  // extern "C"
