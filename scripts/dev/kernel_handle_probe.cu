// What the CUDA runtime and driver accept for a kernel launched through a library handle
// (cudaKernel_t, as the split Hopper units launch): read back from a captured graph, its
// argument layout, relaunched, added to a graph by hand. Device part: `-DPROBE_DEVICE -cubin`.
//   nvcc -arch=sm_90 -DPROBE_DEVICE -cubin -o probe.cubin kernel_handle_probe.cu
//   nvcc -arch=sm_90 -o probe kernel_handle_probe.cu -lcuda && ./probe probe.cubin
#ifdef PROBE_DEVICE
extern "C" __global__ void probe_k(float* p, int n, double x) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] += float(x) + i;
}
#else
#include <cuda.h>
#include <cuda_runtime.h>
#include <cstdio>
#include <vector>

#define SAY(what, e) std::printf("%-60s %s\n", what, cudaGetErrorString(e))
static const char* cu_str(CUresult r) { const char* s = "?"; cuGetErrorString(r, &s); return s; }
#define SAYCU(what, r) std::printf("%-60s %s\n", what, cu_str(r))

static bool check(float* d, int n, float want_per_i_base, int times) {
  std::vector<float> h(n);
  cudaMemcpy(h.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost);
  for (int i = 0; i < n; ++i)
    if (h[i] != times * (want_per_i_base + i)) { std::printf("  wrong at %d: %g\n", i, h[i]); return false; }
  return true;
}

int main(int argc, char** argv) {
  cudaFree(0);
  cudaLibrary_t lib = nullptr;
  cudaError_t e = cudaLibraryLoadFromFile(&lib, argc > 1 ? argv[1] : "probe.cubin", nullptr,
                                          nullptr, 0, nullptr, nullptr, 0);
  SAY("cudaLibraryLoadFromFile", e);
  cudaKernel_t k = nullptr;
  SAY("cudaLibraryGetKernel", cudaLibraryGetKernel(&k, lib, "probe_k"));
  const int n = 1000;
  float* d = nullptr;
  cudaMalloc(&d, n * sizeof(float));
  cudaMemset(d, 0, n * sizeof(float));
  double x = 2.0;
  int nn = n;
  void* args[] = {&d, &nn, &x};
  cudaStream_t s;
  cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);

  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(4);
  cfg.blockDim = dim3(256);
  cfg.stream = s;
  SAY("cudaLaunchKernelExC((void*)kernel) eager", cudaLaunchKernelExC(&cfg, (const void*)k, args));
  cudaStreamSynchronize(s);
  std::printf("  eager result ok: %d\n", check(d, n, 2.0f, 1));

  SAY("cudaStreamBeginCapture", cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  SAY("cudaLaunchKernelExC under capture", cudaLaunchKernelExC(&cfg, (const void*)k, args));
  cudaGraph_t g = nullptr;
  SAY("cudaStreamEndCapture", cudaStreamEndCapture(s, &g));
  size_t one = 1;
  cudaGraphNode_t node = nullptr;
  cudaGraphGetRootNodes(g, &node, &one);
  cudaKernelNodeParams p{};
  SAY("cudaGraphKernelNodeGetParams (runtime)", cudaGraphKernelNodeGetParams(node, &p));
  cudaGetLastError();
  CUDA_KERNEL_NODE_PARAMS cp{};
  CUresult r = cuGraphKernelNodeGetParams((CUgraphNode)node, &cp);
  SAYCU("cuGraphKernelNodeGetParams (driver)", r);
  if (r == CUDA_SUCCESS)
    std::printf("  func %p kern %p (kernel %p) ctx %p grid %u block %u smem %u params %p extra %p\n",
                (void*)cp.func, (void*)cp.kern, (void*)k, (void*)cp.ctx, cp.gridDimX, cp.blockDimX,
                cp.sharedMemBytes, (void*)cp.kernelParams, (void*)cp.extra);
  for (size_t a = 0; a < 4; ++a) {
    size_t off = 0, size = 0;
    e = cudaFuncGetParamInfo((const void*)k, a, &off, &size);
    std::printf("  cudaFuncGetParamInfo((void*)kernel, %zu): %s off %zu size %zu\n", a,
                cudaGetErrorString(e), off, size);
    cudaGetLastError();
    r = cuKernelGetParamInfo((CUkernel)k, a, &off, &size);
    std::printf("  cuKernelGetParamInfo(kernel, %zu): %s off %zu size %zu\n", a, cu_str(r), off, size);
  }
  cudaFuncAttributes fa{};
  SAY("cudaFuncGetAttributes((void*)kernel)", cudaFuncGetAttributes(&fa, (const void*)k));
  cudaGetLastError();
  cudaLaunchAttributeValue v{};
  SAY("cudaGraphKernelNodeGetAttribute(cluster)",
      cudaGraphKernelNodeGetAttribute(node, cudaLaunchAttributeClusterDimension, &v));
  cudaGetLastError();

  cudaMemset(d, 0, n * sizeof(float));
  SAY("cudaLaunchKernel((void*)kernel)", cudaLaunchKernel((const void*)k, dim3(4), dim3(256), args, 0, s));
  cudaStreamSynchronize(s);
  std::printf("  result ok: %d\n", check(d, n, 2.0f, 1));

  cudaGraph_t g2 = nullptr;
  cudaGraphCreate(&g2, 0);
  cudaKernelNodeParams np{};
  np.func = (void*)k;
  np.gridDim = dim3(4);
  np.blockDim = dim3(256);
  np.kernelParams = args;
  cudaGraphNode_t n2 = nullptr, n3 = nullptr;
  SAY("cudaGraphAddKernelNode(func = (void*)kernel)", cudaGraphAddKernelNode(&n2, g2, nullptr, 0, &np));
  cudaGetLastError();
  SAY("cudaGraphAddKernelNode, second, after it", cudaGraphAddKernelNode(&n3, g2, &n2, 1, &np));
  cudaGetLastError();
  cudaGraphExec_t x2 = nullptr;
  SAY("cudaGraphInstantiate", cudaGraphInstantiate(&x2, g2, 0));
  cudaMemset(d, 0, n * sizeof(float));
  SAY("cudaGraphLaunch", cudaGraphLaunch(x2, s));
  SAY("sync", cudaStreamSynchronize(s));
  std::printf("  graph result ok (two launches): %d\n", check(d, n, 2.0f, 2));
  // update of an exec node's params with the handle as func
  x = 3.0;
  SAY("cudaGraphExecKernelNodeSetParams", cudaGraphExecKernelNodeSetParams(x2, n2, &np));
  cudaGetLastError();
  // PDL edge between two handle launches under capture
  cudaLaunchAttribute at{};
  at.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  at.val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = &at;
  cfg.numAttrs = 1;
  cudaMemset(d, 0, n * sizeof(float));
  x = 2.0;
  SAY("cudaLaunchKernelExC PDL 1", cudaLaunchKernelExC(&cfg, (const void*)k, args));
  SAY("cudaLaunchKernelExC PDL 2", cudaLaunchKernelExC(&cfg, (const void*)k, args));
  cudaStreamSynchronize(s);
  std::printf("  pdl result ok: %d\n", check(d, n, 2.0f, 2));
  return 0;
}
#endif
