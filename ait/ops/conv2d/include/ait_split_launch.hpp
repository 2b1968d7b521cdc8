// The host pass of a split Hopper unit (-DAIT_HOST_PASS, ait/tune/build.py): its __global__
// entries are not compiled here but in the unit's cubin (-DAIT_DEVICE_PASS), whose bytes an
// embed object links in under the symbol AIT_UNIT_CUBIN (-DAIT_UNIT_CUBIN=<symbol>). The cubin
// is loaded with the runtime's library API once per process (per .so: everything here has
// internal linkage), each entry looked up by name once, its attributes set once per device.
// Included (by the templates, through jinja) once per translation unit.
//
// The entries keep C++ linkage, in their kernel's namespace (`<kernel>_impl::entry`, as the
// single-object build names them): an extern "C" entry changes the code ptxas emits for the
// same body (the 3.x conv 64x64x64: 1000 SASS instructions against 992; the C++ names give the
// single object's instructions exactly). Their mangled names hold the parameter types, so an
// entry is named here by the prefix of its mangled name (`_ZN<len><kernel>_impl5entryE`),
// looked up in the embedded cubin's ELF symbol table.
#ifndef AIT_SPLIT_LAUNCH_HPP
#define AIT_SPLIT_LAUNCH_HPP

#include <elf.h>

#include <atomic>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <cuda_runtime.h>

#ifndef AIT_UNIT_CUBIN
#error "the host pass needs -DAIT_UNIT_CUBIN=<the symbol of the unit's embedded cubin>"
#endif

extern "C" const unsigned char AIT_UNIT_CUBIN[];

// An unnamed namespace: every unit of a model .so has its own cubin, so nothing here may be
// one (weak) definition shared between units.
namespace ait_split {
namespace {

constexpr int kMaxDevices = 64;

// The unit's cubin as a library; a failed load is tried again on the next call (its error is
// left for cudaGetLastError).
cudaError_t library(cudaLibrary_t* out) {
  static std::mutex mu;
  static std::atomic<cudaLibrary_t> lib{nullptr};
  if ((*out = lib.load(std::memory_order_acquire)) != nullptr) return cudaSuccess;
  std::lock_guard<std::mutex> guard(mu);
  if ((*out = lib.load(std::memory_order_acquire)) != nullptr) return cudaSuccess;
  cudaLibrary_t loaded = nullptr;
  cudaError_t e = cudaLibraryLoadData(&loaded, AIT_UNIT_CUBIN, nullptr, nullptr, 0, nullptr,
                                      nullptr, 0);
  if (e != cudaSuccess) return e;
  lib.store(loaded, std::memory_order_release);
  *out = loaded;
  return cudaSuccess;
}

// The name of the one function of `cubin` (an ELF image) whose name starts with `prefix`;
// nullptr if none or several.
const char* find_function(const unsigned char* cubin, const char* prefix) {
  Elf64_Ehdr eh;
  std::memcpy(&eh, cubin, sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) {
    return nullptr;
  }
  const size_t n = std::strlen(prefix);
  const char* found = nullptr;
  for (unsigned i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh, strtab;
    std::memcpy(&sh, cubin + eh.e_shoff + size_t(i) * eh.e_shentsize, sizeof sh);
    if (sh.sh_type != SHT_SYMTAB || sh.sh_link >= eh.e_shnum) continue;
    std::memcpy(&strtab, cubin + eh.e_shoff + size_t(sh.sh_link) * eh.e_shentsize,
                sizeof strtab);
    const char* names = reinterpret_cast<const char*>(cubin + strtab.sh_offset);
    const size_t step = sh.sh_entsize ? sh.sh_entsize : sizeof(Elf64_Sym);
    for (size_t off = 0; off + sizeof(Elf64_Sym) <= sh.sh_size; off += step) {
      Elf64_Sym sym;
      std::memcpy(&sym, cubin + sh.sh_offset + off, sizeof sym);
      if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_name >= strtab.sh_size) continue;
      if (std::strncmp(names + sym.st_name, prefix, n) == 0) {
        if (found != nullptr) return nullptr;
        found = names + sym.st_name;
      }
    }
  }
  return found;
}

// One __global__ entry of the cubin, named by the prefix of its mangled name: `smem_bytes` of
// dynamic shared memory (opted in when at least 48 KiB), `non_portable_cluster`: set
// cudaFuncAttributeNonPortableClusterSizeAllowed (as CUTLASS's ClusterLauncher does before a
// cluster launch).
class Entry {
 public:
  constexpr Entry(const char* prefix, int smem_bytes, bool non_portable_cluster = false)
      : prefix_(prefix), smem_bytes_(smem_bytes), non_portable_cluster_(non_portable_cluster) {}

  // The kernel, ready to launch on the current device.
  cudaError_t get(cudaKernel_t* out) {
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return e;
    if (dev < 0 || dev >= kMaxDevices) return cudaErrorInvalidDevice;
    if ((*out = kernel_.load(std::memory_order_acquire)) != nullptr &&
        ready_[dev].load(std::memory_order_acquire)) {
      return cudaSuccess;
    }
    std::lock_guard<std::mutex> guard(mu_);
    cudaKernel_t k = kernel_.load(std::memory_order_acquire);
    if (k == nullptr) {
      cudaLibrary_t lib = nullptr;
      if ((e = library(&lib)) != cudaSuccess) return e;
      const char* name = find_function(AIT_UNIT_CUBIN, prefix_);
      if (name == nullptr) return cudaErrorSymbolNotFound;
      if ((e = cudaLibraryGetKernel(&k, lib, name)) != cudaSuccess) return e;
      kernel_.store(k, std::memory_order_release);
    }
    if (!ready_[dev].load(std::memory_order_acquire)) {
      if (smem_bytes_ >= (48 << 10) &&
          (e = cudaKernelSetAttributeForDevice(k, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               smem_bytes_, dev)) != cudaSuccess) {
        return e;
      }
      if (non_portable_cluster_ &&
          (e = cudaKernelSetAttributeForDevice(
               k, cudaFuncAttributeNonPortableClusterSizeAllowed, 1, dev)) != cudaSuccess) {
        return e;
      }
      ready_[dev].store(true, std::memory_order_release);
    }
    *out = k;
    return cudaSuccess;
  }

 private:
  const char* prefix_;
  int smem_bytes_;
  bool non_portable_cluster_;
  std::mutex mu_;
  std::atomic<cudaKernel_t> kernel_{nullptr};
  std::atomic<bool> ready_[kMaxDevices] = {};
};

// Looks the entries up (and so loads the cubin) ahead of their first launch, ignoring failures
// (the launch reports them): the model asks every kernel for its workspace size when it is
// created, outside any stream capture, and records its launches under capture later.
template <typename... Entries>
void warm(Entries&... entries) {
  cudaKernel_t kernel = nullptr;
  for (Entry* e : {&entries...}) {
    if (e->get(&kernel) != cudaSuccess) {
      cudaGetLastError();  // ours: the failed call has just set it
      return;
    }
  }
}

}  // namespace
}  // namespace ait_split

#endif  // AIT_SPLIT_LAUNCH_HPP
