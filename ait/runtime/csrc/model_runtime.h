// The model container behind every compiled .so: constants, the planned workspace, CUDA graph
// capture per batch size, and the C ABI that ait/runtime/model.py loads with ctypes.
//
// The generated model.cu defines the graph-specific constants before including this header:
//   kMetadataJson, kNumInputs, kNumOutputs, kNumDims, kNumOps, kNumConstants,
//   kConstantNames[], kConstantBytes[], kOpNames[], kWorkspaceBytes (activations),
//   kZeroBytes, kDimLower[], kDimUpper[], kProbeDims[kNumProbes][kNumDims]
// and after it the two graph-specific functions declared below (run_op, op_workspace_bytes).
// (inlined into each generated model.cu; not a shared header)
#include <cuda_runtime.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "ait_abi.h"

namespace ait {

thread_local std::string g_last_error;

inline int set_error(int code, const char* fmt, ...) {
  char buf[1024];
  va_list args;
  va_start(args, fmt);
  vsnprintf(buf, sizeof(buf), fmt, args);
  va_end(args);
  g_last_error = buf;
  return code;
}

#define AIT_CUDA_CHECK(expr)                                                                 \
  do {                                                                                       \
    cudaError_t _e = (expr);                                                                 \
    if (_e != cudaSuccess)                                                                   \
      return ::ait::set_error(AIT_ERR_LAUNCH, "%s failed: %s (%s)", #expr,                   \
                              cudaGetErrorName(_e), cudaGetErrorString(_e));                 \
  } while (0)

struct GraphEntry {
  cudaGraphExec_t exec = nullptr;
  std::vector<const void*> ptrs;  // the input/output pointers the graph was captured with
};

struct ModelState {
  int device = 0;
  char* workspace = nullptr;   // activations [0, kWorkspaceBytes), then kernel workspace
  size_t workspace_bytes = 0;
  char* kws = nullptr;         // kernel (split-K) workspace
  size_t kws_bytes = 0;
  void* zeros = nullptr;       // a zero bias for convs/gemms that have none
  void* constants[kNumConstants > 0 ? kNumConstants : 1] = {};
  bool constant_set[kNumConstants > 0 ? kNumConstants : 1] = {};
  std::map<std::vector<int64_t>, GraphEntry> graphs;  // keyed by the dynamic dims
};

}  // namespace ait

// Generated: runs op `op` on `stream` (AIT_OK or an error set with set_error), and the kernel
// workspace op `op` needs at the given dims.
static int run_op(ait::ModelState& m, int op, const void* const* in, void* const* out,
                  const int64_t* dims, cudaStream_t stream);
static size_t op_workspace_bytes(int op, const int64_t* dims);

static int run_ops(ait::ModelState& m, const void* const* in, void* const* out,
                   const int64_t* dims, cudaStream_t stream) {
  for (int i = 0; i < kNumOps; ++i) {
    int rc = run_op(m, i, in, out, dims, stream);
    if (rc != AIT_OK) return rc;
  }
  return AIT_OK;
}

extern "C" {

const char* ait_last_error() { return ait::g_last_error.c_str(); }
const char* ait_model_metadata() { return kMetadataJson; }

int ait_model_destroy(void* handle);

int ait_model_create(void** handle) {
  *handle = nullptr;
  auto* m = new ait::ModelState();
  cudaError_t e = cudaGetDevice(&m->device);
  // The kernel workspace is the largest any chosen kernel asks for at any bucket's dims.
  size_t kws = 0;
  for (int p = 0; p < kNumProbes; ++p)
    for (int i = 0; i < kNumOps; ++i) {
      size_t b = op_workspace_bytes(i, kProbeDims[p]);
      kws = b > kws ? b : kws;
    }
  m->kws_bytes = (kws + 255) / 256 * 256;
  m->workspace_bytes = kWorkspaceBytes + m->kws_bytes;
  if (e == cudaSuccess && m->workspace_bytes > 0) e = cudaMalloc(&m->workspace, m->workspace_bytes);
  if (e == cudaSuccess) e = cudaMalloc(&m->zeros, kZeroBytes);
  if (e == cudaSuccess) e = cudaMemset(m->zeros, 0, kZeroBytes);
  if (e != cudaSuccess) {
    const size_t bytes = m->workspace_bytes;
    ait_model_destroy(m);
    return ait::set_error(AIT_ERR_INTERNAL, "cannot set up the model (%zu-byte workspace): %s",
                          bytes, cudaGetErrorString(e));
  }
  m->kws = m->workspace + kWorkspaceBytes;
  *handle = m;
  return AIT_OK;
}

int ait_model_destroy(void* handle) {
  auto* m = static_cast<ait::ModelState*>(handle);
  if (!m) return AIT_OK;
  for (auto& kv : m->graphs) cudaGraphExecDestroy(kv.second.exec);
  for (int i = 0; i < kNumConstants; ++i) cudaFree(m->constants[i]);
  cudaFree(m->workspace);
  cudaFree(m->zeros);
  delete m;
  return AIT_OK;
}

// Copies `bytes` from host (from_host=1) or device memory into the model's own buffer.
int ait_model_set_constant(void* handle, const char* name, const void* data, size_t bytes,
                           int from_host) {
  auto* m = static_cast<ait::ModelState*>(handle);
  for (int i = 0; i < kNumConstants; ++i) {
    if (std::strcmp(kConstantNames[i], name) != 0) continue;
    if (bytes != kConstantBytes[i])
      return ait::set_error(AIT_ERR_INTERNAL, "constant '%s' takes %zu bytes, got %zu", name,
                            size_t(kConstantBytes[i]), bytes);
    if (!m->constants[i]) AIT_CUDA_CHECK(cudaMalloc(&m->constants[i], bytes));
    AIT_CUDA_CHECK(cudaMemcpy(m->constants[i], data, bytes,
                              from_host ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToDevice));
    m->constant_set[i] = true;
    for (auto& kv : m->graphs) cudaGraphExecDestroy(kv.second.exec);
    m->graphs.clear();  // captured graphs may hold old pointers (first set allocates)
    return AIT_OK;
  }
  return ait::set_error(AIT_ERR_INTERNAL, "the model has no constant named '%s'", name);
}

// Checks every constant is bound; the graph has no foldable subgraph beyond BN (folded by
// weight_utils), so folding is a validation step here.
int ait_model_fold_constants(void* handle) {
  auto* m = static_cast<ait::ModelState*>(handle);
  for (int i = 0; i < kNumConstants; ++i)
    if (!m->constant_set[i])
      return ait::set_error(AIT_ERR_INTERNAL, "constant '%s' was never set", kConstantNames[i]);
  AIT_CUDA_CHECK(cudaDeviceSynchronize());
  return AIT_OK;
}

static int check_ready(ait::ModelState* m, const int64_t* dims) {
  for (int i = 0; i < kNumConstants; ++i)
    if (!m->constant_set[i])
      return ait::set_error(AIT_ERR_INTERNAL, "constant '%s' was never set", kConstantNames[i]);
  for (int i = 0; i < kNumDims; ++i)
    if (dims[i] < kDimLower[i] || dims[i] > kDimUpper[i])
      return ait::set_error(AIT_ERR_CANNOT_IMPLEMENT, "dynamic dim %d is %lld, outside %lld..%lld",
                            i, (long long)dims[i], (long long)kDimLower[i],
                            (long long)kDimUpper[i]);
  return AIT_OK;
}

static int run_graph(ait::ModelState* m, const void* const* in, void* const* out,
                     const int64_t* dims, cudaStream_t stream) {
  std::vector<int64_t> key(dims, dims + kNumDims);
  std::vector<const void*> ptrs(in, in + kNumInputs);
  ptrs.insert(ptrs.end(), out, out + kNumOutputs);
  auto it = m->graphs.find(key);
  if (it == m->graphs.end() || it->second.ptrs != ptrs) {
    // Capture on a private stream so a legacy default stream never breaks capture.
    cudaStream_t cap;
    AIT_CUDA_CHECK(cudaStreamCreateWithFlags(&cap, cudaStreamNonBlocking));
    cudaGraph_t graph;
    cudaError_t e = cudaStreamBeginCapture(cap, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) {
      cudaStreamDestroy(cap);
      return ait::set_error(AIT_ERR_LAUNCH, "CUDA graph capture could not start: %s",
                            cudaGetErrorString(e));
    }
    int rc = run_ops(*m, in, out, dims, cap);
    e = cudaStreamEndCapture(cap, &graph);
    cudaStreamDestroy(cap);
    if (rc != AIT_OK) {
      if (e == cudaSuccess) cudaGraphDestroy(graph);
      return rc;
    }
    if (e != cudaSuccess)
      return ait::set_error(AIT_ERR_LAUNCH, "CUDA graph capture failed: %s (%s)",
                            cudaGetErrorName(e), cudaGetErrorString(e));
    ait::GraphEntry entry;
    if (it != m->graphs.end()) {  // same shapes, new pointers: update in place if possible
      cudaGraphExecUpdateResultInfo info;
      if (cudaGraphExecUpdate(it->second.exec, graph, &info) == cudaSuccess) {
        entry.exec = it->second.exec;
      } else {
        cudaGetLastError();
        cudaGraphExecDestroy(it->second.exec);
      }
      m->graphs.erase(it);
    }
    if (!entry.exec) {
      e = cudaGraphInstantiate(&entry.exec, graph, 0);
      if (e != cudaSuccess) {
        cudaGraphDestroy(graph);
        return ait::set_error(AIT_ERR_LAUNCH, "CUDA graph instantiation failed: %s",
                              cudaGetErrorString(e));
      }
    }
    cudaGraphDestroy(graph);
    entry.ptrs = ptrs;
    it = m->graphs.emplace(key, entry).first;
  }
  AIT_CUDA_CHECK(cudaGraphLaunch(it->second.exec, stream));
  return AIT_OK;
}

int ait_model_run(void* handle, const void* const* inputs, void* const* outputs,
                  const int64_t* dims, int graph_mode, cudaStream_t stream, int sync) {
  auto* m = static_cast<ait::ModelState*>(handle);
  int rc = check_ready(m, dims);
  if (rc != AIT_OK) return rc;
  rc = graph_mode ? run_graph(m, inputs, outputs, dims, stream)
                  : run_ops(*m, inputs, outputs, dims, stream);
  if (rc != AIT_OK) return rc;
  if (sync) AIT_CUDA_CHECK(cudaStreamSynchronize(stream));
  else AIT_CUDA_CHECK(cudaPeekAtLastError());
  return AIT_OK;
}

// Times `repeat` rounds of `count` runs each with CUDA events; writes ms per run per round.
int ait_model_benchmark(void* handle, const void* const* inputs, void* const* outputs,
                        const int64_t* dims, int graph_mode, cudaStream_t stream, int count,
                        int repeat, float* ms_per_round) {
  auto* m = static_cast<ait::ModelState*>(handle);
  int rc = check_ready(m, dims);
  if (rc != AIT_OK) return rc;
  for (int w = 0; w < 3; ++w) {  // warm-up (and graph capture)
    rc = graph_mode ? run_graph(m, inputs, outputs, dims, stream)
                    : run_ops(*m, inputs, outputs, dims, stream);
    if (rc != AIT_OK) return rc;
  }
  cudaEvent_t start, stop;
  AIT_CUDA_CHECK(cudaEventCreate(&start));
  AIT_CUDA_CHECK(cudaEventCreate(&stop));
  for (int r = 0; r < repeat; ++r) {
    AIT_CUDA_CHECK(cudaEventRecord(start, stream));
    for (int i = 0; i < count; ++i) {
      rc = graph_mode ? run_graph(m, inputs, outputs, dims, stream)
                      : run_ops(*m, inputs, outputs, dims, stream);
      if (rc != AIT_OK) break;
    }
    AIT_CUDA_CHECK(cudaEventRecord(stop, stream));
    AIT_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.f;
    AIT_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    ms_per_round[r] = ms / count;
    if (rc != AIT_OK) break;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return rc;
}

// Per-op timing: each op replayed `count` times alone between CUDA events (after one full
// run so every input holds real data); ms_per_op[kNumOps] gets the mean per launch.
int ait_model_profile_ops(void* handle, const void* const* inputs, void* const* outputs,
                          const int64_t* dims, cudaStream_t stream, int count, float* ms_per_op) {
  auto* m = static_cast<ait::ModelState*>(handle);
  int rc = check_ready(m, dims);
  if (rc != AIT_OK) return rc;
  rc = run_ops(*m, inputs, outputs, dims, stream);
  if (rc != AIT_OK) return rc;
  cudaEvent_t start, stop;
  AIT_CUDA_CHECK(cudaEventCreate(&start));
  AIT_CUDA_CHECK(cudaEventCreate(&stop));
  for (int i = 0; i < kNumOps && rc == AIT_OK; ++i) {
    rc = run_op(*m, i, inputs, outputs, dims, stream);  // warm-up
    AIT_CUDA_CHECK(cudaEventRecord(start, stream));
    for (int r = 0; r < count && rc == AIT_OK; ++r) rc = run_op(*m, i, inputs, outputs, dims, stream);
    AIT_CUDA_CHECK(cudaEventRecord(stop, stream));
    AIT_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.f;
    AIT_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    ms_per_op[i] = ms / count;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return rc;
}

// Device memory helpers so the numpy path needs no torch.
int ait_device_malloc(void** ptr, size_t bytes) {
  AIT_CUDA_CHECK(cudaMalloc(ptr, bytes));
  return AIT_OK;
}
int ait_device_free(void* ptr) {
  AIT_CUDA_CHECK(cudaFree(ptr));
  return AIT_OK;
}
// kind: 0 host->device, 1 device->host, 2 device->device
int ait_memcpy(void* dst, const void* src, size_t bytes, int kind) {
  const cudaMemcpyKind kinds[] = {cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost,
                                  cudaMemcpyDeviceToDevice};
  if (kind < 0 || kind > 2) return ait::set_error(AIT_ERR_INTERNAL, "bad memcpy kind %d", kind);
  AIT_CUDA_CHECK(cudaMemcpy(dst, src, bytes, kinds[kind]));
  return AIT_OK;
}
int ait_device_synchronize() {
  AIT_CUDA_CHECK(cudaDeviceSynchronize());
  return AIT_OK;
}

}  // extern "C"
