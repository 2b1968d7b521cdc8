// The model container behind every compiled .so: shared constants, a pool of execution
// contexts, recorded kernel launches, CUDA graphs, and the C ABI that ait/runtime/model.py
// loads with ctypes.
//
// The generated model.cu defines the graph-specific constants before including this header:
//   kMetadataJson, kNumInputs, kNumOutputs, kNumDims, kNumOps, kNumConstants,
//   kConstantNames[], kConstantBytes[], kOpNames[], kOpTouchesIO[], kWorkspaceBytes
//   (activations), kZeroBytes, kDimLower[], kDimUpper[], kProbeDims[kNumProbes][kNumDims]
// and after it the two graph-specific functions declared below (run_op, op_workspace_bytes).
// (inlined into each generated model.cu; not a shared header)
//
// Concurrency contract. A model holds N execution contexts (activation workspace, kernel
// workspace, recorded launches, CUDA graphs) over one copy of the constants. A call takes a
// free context, makes its stream wait for the context's last work (a CUDA event), queues its
// own work, records the event and gives the context back: calls on different streams overlap
// and never share a workspace while either one's work is in flight; with one context they are
// serialized on the GPU. Setting a constant waits until no call holds a context and every
// context's queued work has finished; calls wait while a constant is being written.
//
// Thin host path. The first call at a dims vector runs each op once under stream capture and
// keeps the launches it made (function, grid, arguments, attributes). Later calls replay them
// (eager mode) or launch one CUDA graph built from them (graph mode). Only ops that touch a
// model input or output depend on the caller's pointers: they are re-recorded for a new pointer
// set (a few per op are kept) and, in graph mode, only their nodes get new parameters.
//
// Programmatic dependent launch. An op whose kernels all wait for the kernels before them
// (griddepcontrol.wait before any global memory access: ait_pdl.h, CUTLASS 3.x built with
// CUTLASS_ENABLE_GDC_FOR_SM90) says so from run_op; its launches are then replayed with
// programmatic stream serialization, so each one's launch and prologue overlap the tail of
// the kernel before (graph mode: a programmatic edge from the kernel's trigger port: CUTLASS
// 3.x hints after its main loop, other kernels when their blocks exit). The first launch of
// a call never is. The launch-completion port (start once every block before has started)
// measured slower: 0.295 against 0.267 ms at batch 1 (H200, 4d56607; waiting blocks holding
// SM resources is the likely cause, not established). AIT_PDL=0 in the environment at model
// creation turns PDL off.
#include <cuda.h>  // the driver's kernel-node types only: its entry points come through cudart
#include <cuda_runtime.h>

#include <array>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ait_prefetch.h"  // ait_weight_prefetch_from_env
#include "ait_switch.h"    // ait_switch_on
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
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

// What the generated run_op reads: where this context's tensors and the constants live.
struct Bindings {
  char* workspace = nullptr;  // activations [0, kWorkspaceBytes)
  char* kws = nullptr;        // kernel workspace (the largest any chosen kernel asks for)
  size_t kws_bytes = 0;
  void* const* constants = nullptr;
  void* zeros = nullptr;      // a zero bias for convs/gemms that have none
  int prefetch = 1;           // kernels warm their constants in L2 (args' `prefetch`)
};

// One kernel launch as recorded from an op: enough to replay it or to add it to a graph.
constexpr int kMaxKernelArgs = 64;
struct Launch {
  const void* func = nullptr;
  dim3 grid, block;
  unsigned smem = 0;
  bool waits = false;  // the kernel waits for its predecessors: may launch programmatically
  std::vector<cudaLaunchAttribute> attrs;
  std::vector<unsigned char> arg_bytes;  // every argument at its offset
  std::vector<size_t> arg_offsets;

  void fill_args(void** args) const {
    for (size_t i = 0; i < arg_offsets.size(); ++i)
      args[i] = const_cast<unsigned char*>(arg_bytes.data()) + arg_offsets[i];
  }
};
using OpLaunches = std::vector<Launch>;
// The model's inputs, then its outputs; a dims vector. Fixed-size: no allocation per call.
using Pointers = std::array<const void*, kNumInputs + kNumOutputs>;
using DimsKey = std::array<int64_t, (kNumDims > 0 ? kNumDims : 1)>;

// The launches of one context at one dims vector, and its graph.
struct Plan {
  std::vector<OpLaunches> ops;  // ops that touch the model's I/O: empty, see io
  // Per op that touches I/O: recordings for recent pointer sets, most recent first.
  std::vector<std::vector<std::pair<Pointers, OpLaunches>>> io;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  std::vector<std::vector<cudaGraphNode_t>> nodes;  // per op, its kernel nodes in `graph`
  Pointers exec_ptrs{};                              // the pointer set `exec` holds
  bool exec_ptrs_valid = false;
};
constexpr size_t kIoRecordingsKept = 8;

struct Context {
  char* workspace = nullptr;
  cudaEvent_t done = nullptr;   // recorded after each call's work
  bool used = false;            // `done` has been recorded at least once
  bool busy = false;            // held by a call (under ModelState::mu)
  cudaStream_t last_stream = nullptr;
  cudaStream_t capture = nullptr;  // private stream for recording
  std::map<DimsKey, std::unique_ptr<Plan>> plans;
};

// Programmatic dependent launch: sm_90+ unless AIT_PDL is an off value (ait_switch.h).
inline bool pdl_from_env(int cc_major) { return ait_switch_on("AIT_PDL") && cc_major >= 9; }

struct ModelState {
  int device = 0;
  char* constant_arena = nullptr;  // every constant, allocated once: pointers never change
  void* constants[kNumConstants > 0 ? kNumConstants : 1] = {};
  bool constant_set[kNumConstants > 0 ? kNumConstants : 1] = {};
  void* zeros = nullptr;
  size_t kws_bytes = 0;
  std::vector<Context> ctxs;
  cudaStream_t copy_stream = nullptr;
  std::mutex mu;
  std::condition_variable cv;
  int writers_waiting = 0;
  bool writing = false;
  bool closed = false;
  bool pdl = false;  // programmatic dependent launch (sm_90+, not turned off by AIT_PDL=0)
  bool prefetch = true;  // kernels' L2 prefetch of their constants (AIT_WEIGHT_PREFETCH=0: off)

  Bindings bindings(const Context& c) const {
    Bindings b;
    b.workspace = c.workspace;
    b.kws = c.workspace ? c.workspace + kWorkspaceBytes : nullptr;
    b.kws_bytes = kws_bytes;
    b.constants = constants;
    b.zeros = zeros;
    b.prefetch = prefetch ? 1 : 0;
    return b;
  }
};

// Makes the model's device current for the call and restores the caller's afterwards.
struct DeviceGuard {
  int prev = -1, want;
  explicit DeviceGuard(int device) : want(device) {
    if (cudaGetDevice(&prev) == cudaSuccess && prev != want) cudaSetDevice(want);
  }
  ~DeviceGuard() {
    if (prev >= 0 && prev != want) cudaSetDevice(prev);
  }
};

}  // namespace ait

// Generated: runs op `op` on `stream` (AIT_OK or an error set with set_error; *waits: every
// kernel it launched waits for its predecessors), and the kernel workspace op `op` needs at
// the given dims.
static int run_op(const ait::Bindings& m, int op, const void* const* in, void* const* out,
                  const int64_t* dims, cudaStream_t stream, bool* waits);
static size_t op_workspace_bytes(int op, const int64_t* dims);

namespace ait {

// A captured kernel node's launch. The runtime's cudaGraphKernelNodeGetParams cannot read a
// node launched through a library handle (cudaKernel_t: the split Hopper units' kernels; it
// fails with cudaErrorInvalidDeviceFunction), the driver's call can, and gives the handle
// back, which every runtime call used here accepts in place of a function (measured on the
// H200: scripts/dev/kernel_handle_probe.cu). The driver entry comes through cudart, so the
// model links no libcuda. Internal linkage: its static is not one symbol shared by models.
static cudaError_t kernel_node_params(cudaGraphNode_t node, cudaKernelNodeParams* p) {
  cudaError_t e = cudaGraphKernelNodeGetParams(node, p);
  if (e != cudaErrorInvalidDeviceFunction) return e;
  cudaGetLastError();
  using GetParams = CUresult (*)(CUgraphNode, CUDA_KERNEL_NODE_PARAMS_v2*);
  static GetParams get = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuGraphKernelNodeGetParams", &fn, 12000,
                                         cudaEnableDefault, &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess) {
      cudaGetLastError();
      fn = nullptr;
    }
    return reinterpret_cast<GetParams>(fn);
  }();
  CUDA_KERNEL_NODE_PARAMS_v2 d{};
  if (get == nullptr || get(reinterpret_cast<CUgraphNode>(node), &d) != CUDA_SUCCESS ||
      d.kern == nullptr)
    return e;
  *p = cudaKernelNodeParams{};
  p->func = reinterpret_cast<void*>(d.kern);
  p->gridDim = dim3(d.gridDimX, d.gridDimY, d.gridDimZ);
  p->blockDim = dim3(d.blockDimX, d.blockDimY, d.blockDimZ);
  p->sharedMemBytes = d.sharedMemBytes;
  p->kernelParams = d.kernelParams;
  p->extra = d.extra;
  return cudaSuccess;
}

// Runs op `op` under capture on `cap` and keeps what it launched. The op must launch a chain
// of kernels (or nothing): every kernel we generate or link does.
inline int record_op(const Bindings& b, cudaStream_t cap, int op, const void* const* in,
                     void* const* out, const int64_t* dims, OpLaunches* result) {
  result->clear();
  cudaGetLastError();  // a stale error would be blamed on this op by its own check
  AIT_CUDA_CHECK(cudaStreamBeginCapture(cap, cudaStreamCaptureModeThreadLocal));
  bool waits = false;
  int rc = run_op(b, op, in, out, dims, cap, &waits);
  cudaGraph_t g = nullptr;
  cudaError_t e = cudaStreamEndCapture(cap, &g);
  if (rc != AIT_OK) {
    if (g) cudaGraphDestroy(g);
    cudaGetLastError();
    return rc;
  }
  if (e != cudaSuccess)
    return set_error(AIT_ERR_LAUNCH, "op %d (%s): recording its launches failed: %s", op,
                     kOpNames[op], cudaGetErrorString(e));
  size_t n = 0, roots = 0;
  cudaGraphGetNodes(g, nullptr, &n);
  cudaGraphGetRootNodes(g, nullptr, &roots);
  cudaGraphNode_t node = nullptr;
  if (n) {
    size_t one = 1;
    cudaGraphGetRootNodes(g, &node, &one);
  }
  for (size_t i = 0; i < n && rc == AIT_OK; ++i) {
    cudaGraphNodeType type = cudaGraphNodeTypeEmpty;
    cudaGraphNodeGetType(node, &type);
    size_t next = 0;
    cudaGraphNodeGetDependentNodes(node, nullptr, nullptr, &next);
    if (type != cudaGraphNodeTypeKernel || roots != 1 || next != (i + 1 < n ? 1u : 0u)) {
      rc = set_error(AIT_ERR_INTERNAL, "op %d (%s) launched a node of type %d, or not one chain "
                     "of kernels; the runtime records chains of kernel launches only", op,
                     kOpNames[op], (int)type);
      break;
    }
    cudaKernelNodeParams p{};
    e = kernel_node_params(node, &p);
    if (e != cudaSuccess || p.extra != nullptr || p.kernelParams == nullptr) {
      rc = set_error(AIT_ERR_INTERNAL, "op %d (%s): cannot read a recorded launch: %s", op,
                     kOpNames[op], cudaGetErrorString(e));
      break;
    }
    Launch l;
    l.func = p.func;
    l.grid = p.gridDim;
    l.block = p.blockDim;
    l.smem = p.sharedMemBytes;
    l.waits = waits;
    std::vector<size_t> sizes;
    for (size_t a = 0; a < size_t(kMaxKernelArgs); ++a) {
      size_t off = 0, size = 0;
      if (cudaFuncGetParamInfo(p.func, a, &off, &size) != cudaSuccess) break;
      l.arg_offsets.push_back(off);
      sizes.push_back(size);
    }
    cudaGetLastError();  // the probe past the last argument sets an error
    size_t total = 0;
    for (size_t a = 0; a < sizes.size(); ++a)
      total = l.arg_offsets[a] + sizes[a] > total ? l.arg_offsets[a] + sizes[a] : total;
    l.arg_bytes.resize(total);
    for (size_t a = 0; a < sizes.size(); ++a)
      std::memcpy(l.arg_bytes.data() + l.arg_offsets[a], p.kernelParams[a], sizes[a]);
    // The attributes a launch can carry that change what runs (clusters above all).
    const cudaLaunchAttributeID ids[] = {cudaLaunchAttributeClusterDimension,
                                         cudaLaunchAttributeClusterSchedulingPolicyPreference,
                                         cudaLaunchAttributeCooperative,
                                         cudaLaunchAttributePriority};
    for (cudaLaunchAttributeID id : ids) {
      cudaLaunchAttribute attr{};
      attr.id = id;
      if (cudaGraphKernelNodeGetAttribute(node, id, &attr.val) != cudaSuccess) {
        cudaGetLastError();
        continue;
      }
      bool set = false;
      if (id == cudaLaunchAttributeClusterDimension)
        set = attr.val.clusterDim.x * attr.val.clusterDim.y * attr.val.clusterDim.z > 1;
      else if (id == cudaLaunchAttributeClusterSchedulingPolicyPreference)
        set = attr.val.clusterSchedulingPolicyPreference != cudaClusterSchedulingPolicyDefault;
      else if (id == cudaLaunchAttributeCooperative)
        set = attr.val.cooperative != 0;
      else
        set = attr.val.priority != 0;
      if (set) l.attrs.push_back(attr);
    }
    result->push_back(std::move(l));
    if (next == 1) {
      cudaGraphNode_t following = nullptr;
      cudaGraphNodeGetDependentNodes(node, &following, nullptr, &next);
      node = following;
    }
  }
  cudaGraphDestroy(g);
  return rc;
}

// Launches `l` on `stream`; `programmatic`: it may start before the kernel before it ends.
inline cudaError_t replay(const Launch& l, cudaStream_t stream, bool programmatic) {
  void* args[kMaxKernelArgs];
  l.fill_args(args);
  if (l.attrs.empty() && !programmatic)  // the plain launch: no attribute processing
    return cudaLaunchKernel(l.func, l.grid, l.block, args, l.smem, stream);
  cudaLaunchAttribute attrs[8];
  unsigned n = 0;
  for (const cudaLaunchAttribute& a : l.attrs)
    if (n < 7) attrs[n++] = a;
  if (programmatic) {
    attrs[n] = cudaLaunchAttribute{};
    attrs[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attrs[n++].val.programmaticStreamSerializationAllowed = 1;
  }
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = l.grid;
  cfg.blockDim = l.block;
  cfg.dynamicSmemBytes = l.smem;
  cfg.stream = stream;
  cfg.attrs = attrs;
  cfg.numAttrs = n;
  return cudaLaunchKernelExC(&cfg, l.func, args);
}

inline cudaKernelNodeParams node_params(const Launch& l, void** args) {
  l.fill_args(args);
  cudaKernelNodeParams p{};
  p.func = const_cast<void*>(l.func);
  p.gridDim = l.grid;
  p.blockDim = l.block;
  p.sharedMemBytes = l.smem;
  p.kernelParams = args;
  return p;
}

// Adds launch `l` to `g` after `prev` (none: a root). A kernel that waits for its predecessors
// gets a programmatic edge when `pdl`; any other a full edge.
inline cudaError_t add_kernel_node(cudaGraph_t g, const Launch& l, cudaGraphNode_t prev,
                                   bool pdl, cudaGraphNode_t* node) {
  void* args[kMaxKernelArgs];
  cudaKernelNodeParams np = node_params(l, args);
  cudaError_t e = cudaGraphAddKernelNode(node, g, nullptr, 0, &np);
  for (const cudaLaunchAttribute& a : l.attrs)
    if (e == cudaSuccess) e = cudaGraphKernelNodeSetAttribute(*node, a.id, &a.val);
  if (e != cudaSuccess || !prev) return e;
  cudaGraphEdgeData edge{};  // zero: full completion of `prev`, memory visible
  if (pdl && l.waits) {
    edge.from_port = cudaGraphKernelNodePortProgrammatic;
    edge.type = cudaGraphDependencyTypeProgrammatic;
  }
  return cudaGraphAddDependencies(g, &prev, node, &edge, 1);
}

inline Pointers pointers(const void* const* in, void* const* out) {
  Pointers ptrs{};
  for (int i = 0; i < kNumInputs; ++i) ptrs[i] = in[i];
  for (int i = 0; i < kNumOutputs; ++i) ptrs[kNumInputs + i] = out[i];
  return ptrs;
}

// The launches of I/O op `op` for `ptrs`: a kept recording, or a new one.
inline int io_launches(ModelState& m, Context& c, Plan& p, int op, const Pointers& ptrs,
                       const void* const* in, void* const* out, const int64_t* dims,
                       const OpLaunches** result) {
  auto& kept = p.io[op];
  for (size_t i = 0; i < kept.size(); ++i) {
    if (kept[i].first != ptrs) continue;
    if (i) std::swap(kept[i], kept[0]);
    *result = &kept[0].second;
    return AIT_OK;
  }
  OpLaunches fresh;
  int rc = record_op(m.bindings(c), c.capture, op, in, out, dims, &fresh);
  if (rc != AIT_OK) return rc;
  if (!kept.empty() && kept[0].second.size() != fresh.size())
    return set_error(AIT_ERR_INTERNAL, "op %d (%s) launched %zu kernels for new pointers, %zu "
                     "before", op, kOpNames[op], fresh.size(), kept[0].second.size());
  if (kept.size() >= kIoRecordingsKept) kept.pop_back();
  kept.insert(kept.begin(), {ptrs, std::move(fresh)});
  *result = &kept[0].second;
  return AIT_OK;
}

// The plan of context `c` at `dims`, recording every op on first use.
inline int plan_for(ModelState& m, Context& c, const void* const* in, void* const* out,
                    const int64_t* dims, Plan** result) {
  DimsKey key{};
  for (int i = 0; i < kNumDims; ++i) key[i] = dims[i];
  auto it = c.plans.find(key);
  if (it != c.plans.end()) {
    *result = it->second.get();
    return AIT_OK;
  }
  auto p = std::make_unique<Plan>();
  p->ops.resize(kNumOps);
  p->io.resize(kNumOps);
  const Bindings b = m.bindings(c);
  for (int i = 0; i < kNumOps; ++i) {
    if (kOpTouchesIO[i]) continue;  // recorded per pointer set, on demand
    int rc = record_op(b, c.capture, i, in, out, dims, &p->ops[i]);
    if (rc != AIT_OK) return rc;
  }
  *result = p.get();
  c.plans.emplace(std::move(key), std::move(p));
  return AIT_OK;
}

// `*first`: no kernel of this call has been launched yet (then none may launch early).
inline int launch_op(ModelState& m, Context& c, Plan& p, int op, const Pointers& ptrs,
                     const void* const* in, void* const* out, const int64_t* dims,
                     cudaStream_t stream, bool* first) {
  const OpLaunches* launches = &p.ops[op];
  if (kOpTouchesIO[op]) {
    int rc = io_launches(m, c, p, op, ptrs, in, out, dims, &launches);
    if (rc != AIT_OK) return rc;
  }
  for (const Launch& l : *launches) {
    cudaError_t e = replay(l, stream, m.pdl && l.waits && !*first);
    *first = false;
    if (e != cudaSuccess)
      return set_error(AIT_ERR_LAUNCH, "op %d (%s) failed to launch: %s", op, kOpNames[op],
                       cudaGetErrorString(e));
  }
  return AIT_OK;
}

inline int run_eager(ModelState& m, Context& c, Plan& p, const void* const* in,
                     void* const* out, const int64_t* dims, cudaStream_t stream) {
  const Pointers ptrs = pointers(in, out);
  bool first = true;
  for (int i = 0; i < kNumOps; ++i) {
    int rc = launch_op(m, c, p, i, ptrs, in, out, dims, stream, &first);
    if (rc != AIT_OK) return rc;
  }
  return AIT_OK;
}

// Builds the plan's graph from its launches (once), points its I/O nodes at `ptrs`, launches.
inline int run_graph(ModelState& m, Context& c, Plan& p, const void* const* in,
                     void* const* out, const int64_t* dims, cudaStream_t stream) {
  const Pointers ptrs = pointers(in, out);
  void* args[kMaxKernelArgs];
  if (!p.exec) {
    cudaGraph_t g;
    AIT_CUDA_CHECK(cudaGraphCreate(&g, 0));
    std::vector<std::vector<cudaGraphNode_t>> nodes(kNumOps);
    cudaGraphNode_t prev = nullptr;
    int rc = AIT_OK;
    for (int i = 0; i < kNumOps && rc == AIT_OK; ++i) {
      const OpLaunches* launches = &p.ops[i];
      if (kOpTouchesIO[i]) rc = io_launches(m, c, p, i, ptrs, in, out, dims, &launches);
      for (size_t j = 0; rc == AIT_OK && j < launches->size(); ++j) {
        cudaGraphNode_t node = nullptr;
        cudaError_t e = add_kernel_node(g, (*launches)[j], prev, m.pdl, &node);
        if (e != cudaSuccess)
          rc = set_error(AIT_ERR_LAUNCH, "op %d (%s): adding it to the CUDA graph failed: %s", i,
                         kOpNames[i], cudaGetErrorString(e));
        nodes[i].push_back(node);
        prev = node;
      }
    }
    cudaGraphExec_t exec = nullptr;
    if (rc == AIT_OK) {
      cudaError_t e = cudaGraphInstantiate(&exec, g, 0);
      if (e != cudaSuccess)
        rc = set_error(AIT_ERR_LAUNCH, "CUDA graph instantiation failed: %s",
                       cudaGetErrorString(e));
    }
    if (rc != AIT_OK) {
      cudaGraphDestroy(g);
      return rc;
    }
    p.graph = g;
    p.exec = exec;
    p.nodes = std::move(nodes);
    p.exec_ptrs = ptrs;
    p.exec_ptrs_valid = true;
  } else if (!p.exec_ptrs_valid || p.exec_ptrs != ptrs) {
    for (int i = 0; i < kNumOps; ++i) {
      if (!kOpTouchesIO[i]) continue;
      const OpLaunches* launches = nullptr;
      int rc = io_launches(m, c, p, i, ptrs, in, out, dims, &launches);
      if (rc != AIT_OK) return rc;
      if (launches->size() != p.nodes[i].size())
        return set_error(AIT_ERR_INTERNAL, "op %d (%s): %zu kernels, the graph has %zu", i,
                         kOpNames[i], launches->size(), p.nodes[i].size());
      for (size_t j = 0; j < launches->size(); ++j) {
        cudaKernelNodeParams np = node_params((*launches)[j], args);
        p.exec_ptrs_valid = false;  // if an update fails midway the exec holds a mix: redo
        AIT_CUDA_CHECK(cudaGraphExecKernelNodeSetParams(p.exec, p.nodes[i][j], &np));
      }
    }
    p.exec_ptrs = ptrs;
    p.exec_ptrs_valid = true;
  }
  AIT_CUDA_CHECK(cudaGraphLaunch(p.exec, stream));
  return AIT_OK;
}

inline void destroy_plans(Context& c) {
  for (auto& kv : c.plans) {
    if (kv.second->exec) cudaGraphExecDestroy(kv.second->exec);
    if (kv.second->graph) cudaGraphDestroy(kv.second->graph);
  }
  c.plans.clear();
}

// Takes a free context for a call on `stream` (waits while none is free or a constant is being
// written). Prefers the context last used on this stream, then one whose work has finished.
inline int acquire(ModelState& m, cudaStream_t stream, Context** result) {
  std::unique_lock<std::mutex> lock(m.mu);
  for (;;) {
    if (m.closed) return set_error(AIT_ERR_INTERNAL, "the model is closed");
    if (!m.writing && m.writers_waiting == 0) {
      Context* pick = nullptr;
      int rank = 3;
      for (Context& c : m.ctxs) {
        if (c.busy) continue;
        int r = c.last_stream == stream && c.used ? 0
                : (!c.used || cudaEventQuery(c.done) == cudaSuccess) ? 1 : 2;
        if (r < rank) {
          rank = r;
          pick = &c;
        }
      }
      cudaGetLastError();  // cudaEventQuery's cudaErrorNotReady
      if (pick) {
        pick->busy = true;
        *result = pick;
        return AIT_OK;
      }
    }
    m.cv.wait(lock);
  }
}

inline void release(ModelState& m, Context& c) {
  {
    std::lock_guard<std::mutex> lock(m.mu);
    c.busy = false;
  }
  m.cv.notify_all();
}

// Runs `body(context, plan)` on a context: the stream first waits for the context's earlier
// work, and the context's event marks the end of this call's work (also after a failure, so
// the next user of the context waits for whatever was queued).
template <typename Body>
int with_context(ModelState& m, const void* const* in, void* const* out, const int64_t* dims,
                 cudaStream_t stream, Body body) {
  Context* c = nullptr;
  int rc = acquire(m, stream, &c);
  if (rc != AIT_OK) return rc;
  cudaError_t e = c->used ? cudaStreamWaitEvent(stream, c->done, 0) : cudaSuccess;
  if (e != cudaSuccess) {
    release(m, *c);
    return set_error(AIT_ERR_LAUNCH, "cudaStreamWaitEvent failed: %s", cudaGetErrorString(e));
  }
  Plan* p = nullptr;
  rc = plan_for(m, *c, in, out, dims, &p);
  if (rc == AIT_OK) rc = body(*c, *p);
  e = cudaEventRecord(c->done, stream);
  if (e == cudaSuccess) {
    c->used = true;
    c->last_stream = stream;
  } else if (rc == AIT_OK) {
    rc = set_error(AIT_ERR_LAUNCH, "cudaEventRecord failed: %s", cudaGetErrorString(e));
  }
  release(m, *c);
  return rc;
}

// Holds every context idle with its queued work finished, for writing shared state
// (rc says whether it was had: not on a closed model).
struct ExclusiveAccess {
  ModelState& m;
  int rc = AIT_OK;
  bool held = false;
  explicit ExclusiveAccess(ModelState& state) : m(state) {
    std::unique_lock<std::mutex> lock(m.mu);
    ++m.writers_waiting;
    m.cv.wait(lock, [&] {
      if (m.closed) return true;
      if (m.writing) return false;
      for (const Context& c : m.ctxs)
        if (c.busy) return false;
      return true;
    });
    --m.writers_waiting;
    if (m.closed) {
      rc = set_error(AIT_ERR_INTERNAL, "the model is closed");
      lock.unlock();
      m.cv.notify_all();
      return;
    }
    m.writing = held = true;
    lock.unlock();
    for (Context& c : m.ctxs) {
      if (!c.used) continue;
      cudaError_t e = cudaEventSynchronize(c.done);
      if (e != cudaSuccess && rc == AIT_OK)
        rc = set_error(AIT_ERR_LAUNCH, "waiting for queued runs failed: %s",
                       cudaGetErrorString(e));
    }
  }
  ~ExclusiveAccess() {
    if (!held) return;
    {
      std::lock_guard<std::mutex> lock(m.mu);
      m.writing = false;
    }
    m.cv.notify_all();
  }
};

// Times `count` calls of `body` (each returns AIT_OK or an error) between two CUDA events on
// `stream`; writes the mean ms per call.
template <typename Body>
int time_calls(cudaStream_t stream, int count, float* ms_per_call, Body body) {
  cudaEvent_t start, stop;
  AIT_CUDA_CHECK(cudaEventCreate(&start));
  cudaError_t e = cudaEventCreate(&stop);
  if (e != cudaSuccess) {
    cudaEventDestroy(start);
    return set_error(AIT_ERR_LAUNCH, "cudaEventCreate failed: %s", cudaGetErrorString(e));
  }
  int rc = AIT_OK;
  cudaEventRecord(start, stream);
  for (int i = 0; i < count && rc == AIT_OK; ++i) rc = body();
  cudaEventRecord(stop, stream);
  e = cudaEventSynchronize(stop);
  float ms = 0.f;
  if (e == cudaSuccess) e = cudaEventElapsedTime(&ms, start, stop);
  if (e != cudaSuccess && rc == AIT_OK)
    rc = set_error(AIT_ERR_LAUNCH, "timing failed: %s", cudaGetErrorString(e));
  *ms_per_call = ms / count;
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return rc;
}

inline int check_ready(const ModelState& m, const int64_t* dims) {
  for (int i = 0; i < kNumConstants; ++i)
    if (!m.constant_set[i])
      return set_error(AIT_ERR_INTERNAL, "constant '%s' was never set", kConstantNames[i]);
  for (int i = 0; i < kNumDims; ++i)
    if (dims[i] < kDimLower[i] || dims[i] > kDimUpper[i])
      return set_error(AIT_ERR_CANNOT_IMPLEMENT, "dynamic dim %d is %lld, outside %lld..%lld", i,
                       (long long)dims[i], (long long)kDimLower[i], (long long)kDimUpper[i]);
  return AIT_OK;
}

inline void free_resources(ModelState& m) {
  for (Context& c : m.ctxs) {
    if (c.used) cudaEventSynchronize(c.done);
    destroy_plans(c);
    if (c.done) cudaEventDestroy(c.done);
    if (c.capture) cudaStreamDestroy(c.capture);
    cudaFree(c.workspace);
  }
  m.ctxs.clear();
  if (m.copy_stream) cudaStreamDestroy(m.copy_stream);
  m.copy_stream = nullptr;
  cudaFree(m.constant_arena);
  cudaFree(m.zeros);
  m.constant_arena = nullptr;
  m.zeros = nullptr;
  cudaGetLastError();
}

}  // namespace ait

extern "C" {

const char* ait_last_error() { return ait::g_last_error.c_str(); }
const char* ait_model_metadata() { return kMetadataJson; }

int ait_model_destroy(void* handle);

// Allocates the constants and `num_runtimes` execution contexts on the current device.
int ait_model_create(void** handle, int num_runtimes) {
  *handle = nullptr;
  if (num_runtimes < 1)
    return ait::set_error(AIT_ERR_INTERNAL, "num_runtimes must be at least 1, got %d",
                          num_runtimes);
  auto* m = new ait::ModelState();
  cudaError_t e = cudaGetDevice(&m->device);
  int cc_major = 0;
  if (e == cudaSuccess)
    e = cudaDeviceGetAttribute(&cc_major, cudaDevAttrComputeCapabilityMajor, m->device);
  m->pdl = ait::pdl_from_env(cc_major);
  m->prefetch = ait_weight_prefetch_from_env();  // once: every recording of this model agrees
  size_t kws = 0;  // the largest kernel workspace any chosen kernel asks for at any bucket
  for (int p = 0; p < kNumProbes; ++p)
    for (int i = 0; i < kNumOps; ++i) {
      size_t b = op_workspace_bytes(i, kProbeDims[p]);
      kws = b > kws ? b : kws;
    }
  m->kws_bytes = (kws + 255) / 256 * 256;
  const size_t ctx_bytes = kWorkspaceBytes + m->kws_bytes;
  size_t constant_bytes = 0;
  for (int i = 0; i < kNumConstants; ++i) constant_bytes += (kConstantBytes[i] + 255) / 256 * 256;
  if (e == cudaSuccess && constant_bytes) e = cudaMalloc(&m->constant_arena, constant_bytes);
  for (int i = 0, off = 0; e == cudaSuccess && i < kNumConstants; ++i) {
    m->constants[i] = m->constant_arena + off;
    off += int((kConstantBytes[i] + 255) / 256 * 256);
  }
  if (e == cudaSuccess) e = cudaMalloc(&m->zeros, kZeroBytes);
  if (e == cudaSuccess) e = cudaMemset(m->zeros, 0, kZeroBytes);
  if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&m->copy_stream, cudaStreamNonBlocking);
  m->ctxs.resize(num_runtimes);
  for (ait::Context& c : m->ctxs) {
    if (e == cudaSuccess && ctx_bytes) e = cudaMalloc(&c.workspace, ctx_bytes);
    if (e == cudaSuccess) e = cudaEventCreateWithFlags(&c.done, cudaEventDisableTiming);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&c.capture, cudaStreamNonBlocking);
  }
  if (e != cudaSuccess) {
    ait::free_resources(*m);
    delete m;
    return ait::set_error(AIT_ERR_INTERNAL, "cannot set up the model (%d context(s) of %zu "
                          "bytes, %zu bytes of constants): %s", num_runtimes, ctx_bytes,
                          constant_bytes, cudaGetErrorString(e));
  }
  *handle = m;
  return AIT_OK;
}

// Waits for every call to give its context back and the GPU work to finish, then frees the
// device memory. The handle stays valid (later calls fail with "closed") until destroy.
int ait_model_close(void* handle) {
  auto* m = static_cast<ait::ModelState*>(handle);
  if (!m) return AIT_OK;
  ait::DeviceGuard guard(m->device);
  {
    std::unique_lock<std::mutex> lock(m->mu);
    if (m->closed) return AIT_OK;
    m->closed = true;
    m->cv.wait(lock, [&] {
      if (m->writing) return false;
      for (const ait::Context& c : m->ctxs)
        if (c.busy) return false;
      return true;
    });
  }
  m->cv.notify_all();
  ait::free_resources(*m);
  return AIT_OK;
}

int ait_model_destroy(void* handle) {
  auto* m = static_cast<ait::ModelState*>(handle);
  if (!m) return AIT_OK;
  ait_model_close(handle);
  delete m;
  return AIT_OK;
}

int ait_model_device(void* handle) { return static_cast<ait::ModelState*>(handle)->device; }

int ait_model_pdl(void* handle) { return static_cast<ait::ModelState*>(handle)->pdl ? 1 : 0; }
int ait_model_weight_prefetch(void* handle) {
  return static_cast<ait::ModelState*>(handle)->prefetch ? 1 : 0;
}

int ait_model_num_runtimes(void* handle) {
  return static_cast<int>(static_cast<ait::ModelState*>(handle)->ctxs.size());
}

// Copies `count` constants (names[i], bytes[i] from data[i], host memory when from_host=1,
// else device memory) into the model in one step: it starts once no call holds a context and
// the work queued before has finished, and calls made meanwhile wait, so every run sees either
// none or all of the new values. Every name and size is checked before anything is copied.
int ait_model_set_constants(void* handle, int count, const char* const* names,
                            const void* const* data, const size_t* bytes, int from_host) {
  auto* m = static_cast<ait::ModelState*>(handle);
  std::vector<int> index(count > 0 ? count : 0);
  for (int k = 0; k < count; ++k) {
    int found = -1;
    for (int i = 0; i < kNumConstants && found < 0; ++i)
      if (std::strcmp(kConstantNames[i], names[k]) == 0) found = i;
    if (found < 0)
      return ait::set_error(AIT_ERR_INTERNAL, "the model has no constant named '%s'", names[k]);
    if (bytes[k] != kConstantBytes[found])
      return ait::set_error(AIT_ERR_INTERNAL, "constant '%s' takes %zu bytes, got %zu", names[k],
                            size_t(kConstantBytes[found]), bytes[k]);
    index[k] = found;
  }
  ait::DeviceGuard guard(m->device);
  ait::ExclusiveAccess exclusive(*m);
  if (exclusive.rc != AIT_OK) return exclusive.rc;
  const cudaMemcpyKind kind = from_host ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToDevice;
  for (int k = 0; k < count; ++k)
    AIT_CUDA_CHECK(cudaMemcpyAsync(m->constants[index[k]], data[k], bytes[k], kind,
                                   m->copy_stream));
  AIT_CUDA_CHECK(cudaStreamSynchronize(m->copy_stream));
  for (int k = 0; k < count; ++k) m->constant_set[index[k]] = true;
  return AIT_OK;
}

int ait_model_set_constant(void* handle, const char* name, const void* data, size_t bytes,
                           int from_host) {
  return ait_model_set_constants(handle, 1, &name, &data, &bytes, from_host);
}

// Checks every constant is bound; the graph has no foldable subgraph beyond BN (folded by
// weight_utils), so folding is a validation step here.
int ait_model_fold_constants(void* handle) {
  auto* m = static_cast<ait::ModelState*>(handle);
  for (int i = 0; i < kNumConstants; ++i)
    if (!m->constant_set[i])
      return ait::set_error(AIT_ERR_INTERNAL, "constant '%s' was never set", kConstantNames[i]);
  return AIT_OK;
}

int ait_model_run(void* handle, const void* const* inputs, void* const* outputs,
                  const int64_t* dims, int graph_mode, cudaStream_t stream, int sync) {
  auto* m = static_cast<ait::ModelState*>(handle);
  int rc = ait::check_ready(*m, dims);
  if (rc != AIT_OK) return rc;
  ait::DeviceGuard guard(m->device);
  rc = ait::with_context(*m, inputs, outputs, dims, stream, [&](ait::Context& c, ait::Plan& p) {
    return graph_mode ? ait::run_graph(*m, c, p, inputs, outputs, dims, stream)
                      : ait::run_eager(*m, c, p, inputs, outputs, dims, stream);
  });
  if (rc != AIT_OK) return rc;
  if (sync) AIT_CUDA_CHECK(cudaStreamSynchronize(stream));
  else AIT_CUDA_CHECK(cudaPeekAtLastError());
  return AIT_OK;
}

// Times `repeat` rounds of `count` runs each with CUDA events on one context; writes ms per
// run per round.
int ait_model_benchmark(void* handle, const void* const* inputs, void* const* outputs,
                        const int64_t* dims, int graph_mode, cudaStream_t stream, int count,
                        int repeat, float* ms_per_round) {
  auto* m = static_cast<ait::ModelState*>(handle);
  int rc = ait::check_ready(*m, dims);
  if (rc != AIT_OK) return rc;
  ait::DeviceGuard guard(m->device);
  return ait::with_context(*m, inputs, outputs, dims, stream, [&](ait::Context& c, ait::Plan& p) {
    auto once = [&] {
      return graph_mode ? ait::run_graph(*m, c, p, inputs, outputs, dims, stream)
                        : ait::run_eager(*m, c, p, inputs, outputs, dims, stream);
    };
    for (int w = 0; w < 3; ++w) {  // warm-up (and graph instantiation)
      int r = once();
      if (r != AIT_OK) return r;
    }
    int r = AIT_OK;
    for (int k = 0; k < repeat && r == AIT_OK; ++k)
      r = ait::time_calls(stream, count, &ms_per_round[k], once);
    return r;
  });
}

// Per-op timing: each op's launches repeated `count` times, one after the other, in one CUDA
// graph (after one full run so every input holds real data), timed over one graph launch;
// ms_per_op[kNumOps] gets the mean per repetition. In a graph the host's launch rate (some
// 5 us per kernel) does not bound a small op, as it would replayed eagerly; the edges are a
// run's (programmatic ones under PDL), so each repetition overlaps the one before as in a run.
int ait_model_profile_ops(void* handle, const void* const* inputs, void* const* outputs,
                          const int64_t* dims, cudaStream_t stream, int count, float* ms_per_op) {
  auto* m = static_cast<ait::ModelState*>(handle);
  int rc = ait::check_ready(*m, dims);
  if (rc != AIT_OK) return rc;
  if (count < 1) return ait::set_error(AIT_ERR_INTERNAL, "count must be at least 1");
  ait::DeviceGuard guard(m->device);
  return ait::with_context(*m, inputs, outputs, dims, stream, [&](ait::Context& c, ait::Plan& p) {
    int r = ait::run_eager(*m, c, p, inputs, outputs, dims, stream);
    const ait::Pointers ptrs = ait::pointers(inputs, outputs);
    for (int i = 0; i < kNumOps && r == AIT_OK; ++i) {
      const ait::OpLaunches* launches = &p.ops[i];
      if (kOpTouchesIO[i]) r = ait::io_launches(*m, c, p, i, ptrs, inputs, outputs, dims, &launches);
      if (r != AIT_OK) break;
      ms_per_op[i] = 0.f;
      if (launches->empty()) continue;  // a view: nothing runs
      cudaGraph_t g = nullptr;
      cudaGraphExec_t exec = nullptr;
      cudaError_t e = cudaGraphCreate(&g, 0);
      cudaGraphNode_t prev = nullptr;
      for (int k = 0; k < count && e == cudaSuccess; ++k)
        for (const ait::Launch& l : *launches) {
          cudaGraphNode_t node = nullptr;
          e = ait::add_kernel_node(g, l, prev, m->pdl, &node);
          if (e != cudaSuccess) break;
          prev = node;
        }
      if (e == cudaSuccess) e = cudaGraphInstantiate(&exec, g, 0);
      if (e == cudaSuccess) e = cudaGraphLaunch(exec, stream);  // warm-up
      if (e != cudaSuccess)
        r = ait::set_error(AIT_ERR_LAUNCH, "op %d (%s): its timing graph failed: %s", i,
                           kOpNames[i], cudaGetErrorString(e));
      float ms = 0.f;
      if (r == AIT_OK)
        r = ait::time_calls(stream, 1, &ms, [&] {
          cudaError_t le = cudaGraphLaunch(exec, stream);
          return le == cudaSuccess ? AIT_OK : ait::set_error(AIT_ERR_LAUNCH,
              "op %d (%s): launching its timing graph failed: %s", i, kOpNames[i],
              cudaGetErrorString(le));
        });
      ms_per_op[i] = ms / count;
      if (exec) cudaGraphExecDestroy(exec);
      if (g) cudaGraphDestroy(g);
    }
    return r;
  });
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
