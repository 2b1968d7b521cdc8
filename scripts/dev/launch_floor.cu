// Host cost of one kernel launch by API, for a kernel with a small and with a 1 KB argument
// (dev measurement: the floor under eager mode's per-op replay).
#include <cuda_runtime.h>
#include <chrono>
#include <cstdio>
#include <algorithm>
#include <vector>
struct Big { char b[1024]; };
__global__ void small_k(int* p) { if (p && threadIdx.x == 9999) *p = 1; }
__global__ void big_k(Big b) { if (b.b[0] == 123 && threadIdx.x == 9999) printf("x"); }
template <typename F> double median_us(F f, int n = 2000) {
  std::vector<double> t;
  for (int r = 0; r < 20; ++r) {
    cudaDeviceSynchronize();
    auto a = std::chrono::steady_clock::now();
    for (int i = 0; i < 58; ++i) f();
    auto b = std::chrono::steady_clock::now();
    t.push_back(std::chrono::duration<double, std::micro>(b - a).count() / 58);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
int main() {
  cudaStream_t s; cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  int* p = nullptr; Big big{};
  small_k<<<1, 32, 0, s>>>(p); big_k<<<1, 32, 0, s>>>(big); cudaDeviceSynchronize();
  printf("<<<>>> small arg: %.2f us/launch\n", median_us([&] { small_k<<<132, 128, 0, s>>>(p); }));
  printf("<<<>>> 1KB arg:   %.2f us/launch\n", median_us([&] { big_k<<<132, 128, 0, s>>>(big); }));
  void* args_s[] = {&p}; void* args_b[] = {&big};
  printf("cudaLaunchKernel small: %.2f\n", median_us([&] { cudaLaunchKernel((const void*)small_k, dim3(132), dim3(128), args_s, 0, s); }));
  printf("cudaLaunchKernel 1KB:   %.2f\n", median_us([&] { cudaLaunchKernel((const void*)big_k, dim3(132), dim3(128), args_b, 0, s); }));
  cudaLaunchConfig_t cfg{}; cfg.gridDim = dim3(132); cfg.blockDim = dim3(128); cfg.stream = s;
  printf("cudaLaunchKernelExC small: %.2f\n", median_us([&] { cudaLaunchKernelExC(&cfg, (const void*)small_k, args_s); }));
  printf("cudaLaunchKernelExC 1KB:   %.2f\n", median_us([&] { cudaLaunchKernelExC(&cfg, (const void*)big_k, args_b); }));
  cudaDeviceSynchronize();
  printf("errors: %s\n", cudaGetErrorString(cudaGetLastError()));
  return 0;
}
