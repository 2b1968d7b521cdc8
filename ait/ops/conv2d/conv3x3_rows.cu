// A 3x3 / stride 1 / pad 1 conv of 64 -> 64 channels on Hopper (sm_90a) by strips of whole
// rows: ResNet's 56x56 3x3 convs (layer 1), with bias, optional residual and optional ReLU,
// NHWC fp16 in and out, OHWI fp16 weights, fp32 accumulation.
//
// Why: CUTLASS's conv kernels ran these at 54-55% of their floor at batch 256 (0.14 ms each,
// the furthest from the floor of ResNet-50's convs after the stem). Their N = 64 output-channel
// tile with M = pixels makes the wgmma read 128 B of shared memory per clock at full rate, the
// whole budget, and the K loop is only 9 x 64 deep.
//
// Here the roles are swapped, as in the stem's row kernel (ait/ops/stem/stem_rows.cu): one
// wgmma m64n232k16 computes all 64 output channels (M) of a strip of R whole rows (N = 232
// pixels: R rows of Wp = W + 2 columns, the 2 padding columns giving garbage outputs that are
// never stored; R = 232 / Wp, 4 at W = 56) for 16 input channels of one filter tap:
//  * A = the weights, copied once per CTA into the canonical no-swizzle K-major layout (K =
//    tap * 64 + channel is the OHWI row itself; a 2 KB block per k16 step, 36 steps).
//  * B = the input patch of the strip: rows y0 - 1 .. y0 + R, columns -1 .. W (zero outside the
//    image), kept as 8 planes of 8 channels; in each plane pixel (row, col) is the 16 bytes at
//    (row * Wp + col) * 16. Output pixel n = r * Wp + x reads patch pixel n + dy * Wp + dx for
//    tap (dy, dx), so every tap's B is the same descriptor (SBO 128: the next 8 pixels; LBO =
//    the plane stride: the next 8 channels) with its start shifted by (dy * Wp + dx) * 16
//    bytes: the im2col is never written. Per m64n232k16 the wgmma reads 2 KB of weights and
//    7.25 KB of patch, about 80 B per clock at full rate.
// Work: one CTA per SM of up to 3 warpgroups (fewer, over more SMs, when the strips are few);
// warpgroup g of G takes strips g, g + G, ... (adjacent strips run at about the same time, so
// the halo rows come from L2). Per strip: the patch by cp.async (zero-filled outside the
// image), the 36 wgmma, then the epilogue through the patch buffer: bias and fp16 into a
// [pixel][channel] staging, then 16-byte rows out with the residual added and ReLU applied.
// While one warpgroup loads or stores, the others' wgmma keep the tensor cores busy.
//
// The residual is added to the fp16-rounded conv + bias (CUTLASS adds it before rounding):
// one extra fp16 rounding, at most half a unit in the last place.
#ifndef AIT_CONV3X3_ROWS_CU
#define AIT_CONV3X3_ROWS_CU
#include <cuda_fp16.h>
#include <cstdint>
#include "ait_abi.h"
#include "ait_pdl.h"
#include "ait_nan.h"
#include "ait_sm90.h"

#define AIT_C3ROWS_WGMMA AIT_SM90_WGMMA

// Internal linkage throughout: one copy per translation unit, so that model .so files loaded
// together never share a static (see stem.cu).
namespace {
namespace c3rows {
using namespace sm90;  // ait_sm90.h: descriptors, fences, barriers, cp.async, bit casts

constexpr int kC = 64;                   // input and output channels
constexpr int kN = 232;                  // strip pixels (the wgmma's N)
[[maybe_unused]] constexpr int kAcc = kN / 2;  // m64n232 fp32 accumulators a thread
constexpr int kMaxWarpgroups = 3;        // a CTA's at most (one CTA per SM)
constexpr int kTaps = 9;
constexpr int kK = kTaps * kC;           // 576: an OHWI weight row
[[maybe_unused]] constexpr int kSteps = kK / 16;  // 36 k16 steps
constexpr int kPlanes = kC / 8;          // 8-channel planes of the patch
constexpr int kPlaneUsed = 384;          // patch pixels a plane holds
constexpr int kPlaneBytes = (kPlaneUsed + 1) * 16;  // an odd count of 16 bytes: the 8 planes'
                                                    // same pixel falls in different banks
constexpr int kPatchBytes = kPlanes * kPlaneBytes;
constexpr int kWeightBytes = kC * kK * 2;
constexpr int kStageStride = kC + 8;     // halves a pixel in the out staging (bank spread)
constexpr int smem_bytes(int warpgroups) { return kWeightBytes + warpgroups * kPatchBytes; }
// The widest W: the highest patch pixel read, (kN - 1) + 2 Wp + 2, within a plane.
constexpr int kMaxWidth = (kPlaneUsed - kN - 1) / 2 - 2;
static_assert(kN % 8 == 0 && kN <= 256, "wgmma N");
static_assert(1 + 2 * kMaxWarpgroups <= 16, "named barriers: 0, the warpgroups', the turns'");
static_assert(kN * kStageStride * 2 <= kPatchBytes, "the out staging fits the patch buffer");
static_assert(smem_bytes(kMaxWarpgroups) <= 227 * 1024, "sm_90 shared memory a CTA");
static_assert((kPlaneUsed - 1) >= (kN - 1) + 2 * (kMaxWidth + 2) + 2, "kMaxWidth");

struct Shape {
  int n, h, w, wp;     // batch, height, width, patch row pitch (W + 2)
  int rows;            // R: output rows a strip
  int per_img;         // strips an image: ceil(h / R)
  long long strips;    // n * per_img
};

// BEGIN c3rows descriptors (tests/test_conv3x3_rows_layout.py models them)
// A (M = 64 output channels x K, K-major, no swizzle): element (m, k) at halves a_offset(m, k);
// step t's block is 2 KB * t in; LBO 128 (the second 8 k), SBO 256 (the next 8 rows)
constexpr uint32_t kALBO = 128, kASBO = 256, kAStepBytes = 2048;
[[maybe_unused]] __host__ __device__ constexpr int a_offset(int m, int k) {
  return (k >> 4) * int(kAStepBytes / 2) + (m >> 3) * int(kASBO / 2) +
         ((k >> 3) & 1) * int(kALBO / 2) + (m & 7) * 8 + (k & 7);
}
// B (N = 232 pixels x K = 16 channels, K-major, no swizzle): the 8 pixels of a core matrix
// are 16 bytes apart (SBO 128 for the next 8), the second 8 channels one plane on (LBO)
[[maybe_unused]] constexpr uint32_t kBLBO = kPlaneBytes, kBSBO = 128;
// step t: tap t / 4 = (dy, dx) = (t / 12, t / 4 % 3), channels 16 (t % 4) ..: planes 2 (t % 4)
// and 2 (t % 4) + 1, from patch pixel dy * Wp + dx on
[[maybe_unused]] __host__ __device__ constexpr int b_step_bytes(int t, int wp) {
  return 2 * (t & 3) * kPlaneBytes + ((t >> 2) / 3 * wp + (t >> 2) % 3) * 16;
}
// patch pixel (row pr, column pc) of plane c8: bytes from the patch start
[[maybe_unused]] __host__ __device__ constexpr int patch_bytes(int c8, int pr, int pc, int wp) {
  return c8 * kPlaneBytes + (pr * wp + pc) * 16;
}
// END c3rows descriptors
static_assert(kBLBO >> 4 < (1 << 14), "LBO field");

#if AIT_C3ROWS_WGMMA
// warpgroup wg's turn at the tensor cores: barrier 1 + kMaxWarpgroups + wg, which the warpgroup
// before it in the turn order completes with turn_pass (128 threads wait, 128 arrive)
__device__ __forceinline__ void turn_wait(int wg) {
  asm volatile("bar.sync %0, 256;" ::"r"(1 + kMaxWarpgroups + wg) : "memory");
}
__device__ __forceinline__ void turn_pass(int to_wg) {
  asm volatile("bar.arrive %0, 256;" ::"r"(1 + kMaxWarpgroups + to_wg) : "memory");
}
// d (+)= a * b: m64n232k16, A and B K-major through their descriptors; accumulate = 0
// overwrites d
__device__ __forceinline__ void wgmma_m64n232k16(float (&d)[kAcc], uint64_t desc_a,
                                                 uint64_t desc_b, int accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %118, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n232k16.f32.f16.f16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, "
      "%19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, "
      "%36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, "
      "%53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, %65, %66, %67, %68, %69, "
      "%70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, %86, "
      "%87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102, %103, "
      "%104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115}, %116, %117, p, 1, 1, 0, 0;\n}\n"
      :
        "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
        "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]),
        "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]),
        "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]),
        "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]),
        "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]),
        "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]),
        "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]),
        "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]),
        "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
        "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]),
        "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]),
        "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]),
        "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
        "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]),
        "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115])
      : "l"(desc_a), "l"(desc_b), "r"(accumulate));
}
#endif  // AIT_C3ROWS_WGMMA

template <bool kResidual, bool kRelu>
__global__ void __launch_bounds__(128 * kMaxWarpgroups, 1)
conv3x3_rows_kernel(const __half* __restrict__ x, const __half* __restrict__ wt,
                    const __half* __restrict__ bias, const __half* __restrict__ res,
                    __half* __restrict__ y, Shape s) {
  ait_wait_prior_grids();  // first, in every thread (ait_pdl.h)
#if AIT_C3ROWS_WGMMA
  extern __shared__ __align__(128) unsigned char smem[];
  // wg through a shuffle from lane 0: ptxas then knows it is the same in every lane, and so is
  // every branch around the wgmma that depends on it (else it serializes them, C7518)
  const int tid = threadIdx.x, wg = __shfl_sync(0xffffffffu, tid >> 7, 0), lt = tid & 127;
  const int warp = lt >> 5, lane = tid & 31;
  const int nwg = blockDim.x >> 7;  // warpgroups in this CTA (launch: 1 .. kMaxWarpgroups)

  // 1. The weights into the A layout, 16-byte chunks (8 k of one row m)
  for (int ch = tid; ch < kC * kK / 8; ch += blockDim.x) {
    const int m = ch / (kK / 8), k0 = 8 * (ch - m * (kK / 8));
    cp_async16(smem + 2 * a_offset(m, k0), wt + m * kK + k0, true);
  }
  ait_launch_dependents();  // one CTA per SM: the next kernel's CTAs only fill SMs left idle
  const int m0 = 16 * warp + (lane >> 2);  // this thread's channels m0, m0 + 8
  const float b0 = __half2float(bias[m0]), b1 = __half2float(bias[m0 + 8]);
  cp_async_wait_all();
  fence_proxy_async();  // cp.async writes (generic proxy) read by wgmma (async proxy)
  __syncthreads();

  unsigned char* patch = smem + kWeightBytes + wg * kPatchBytes;
  __half* stage = reinterpret_cast<__half*>(patch);  // the out staging, once the wgmma are done
  const uint64_t desc_a0 =
      smem_desc(static_cast<uint32_t>(__cvta_generic_to_shared(smem)), kALBO, kASBO);
  const uint64_t desc_b0 =
      smem_desc(static_cast<uint32_t>(__cvta_generic_to_shared(patch)), kBLBO, kBSBO);

  const long long groups = (long long)nwg * gridDim.x;
  // Turns (with 2 or more warpgroups): the CTA's strips are issued to the tensor cores in strip
  // order, warpgroup after warpgroup, each issuing its 36 wgmma only once the one before has
  // issued its own (named barriers; the BEGIN c3rows turns block). Why: left alone the
  // warpgroups' wgmma interleave, all finish together and all then load their next patch at
  // the same time, with the tensor cores idle (a third of the kernel's time at batch 256). In
  // turn, each loads and stores while the others' wgmma run.
  const bool turns = nwg > 1;
  int k = 0;  // this warpgroup's strips so far
  for (long long st = (long long)nwg * blockIdx.x + wg; st < s.strips; st += groups, ++k) {
    const int img = int(st / s.per_img), y0 = int(st % s.per_img) * s.rows;
    const __half* ximg = x + (long long)img * s.h * s.w * kC;

    // 2. The patch: rows y0 - 1 .. y0 + R, columns -1 .. W; consecutive threads take the 8
    //    chunks of one pixel (128 contiguous bytes of x, 8 planes in shared memory)
    const int npx = (s.rows + 2) * s.wp;
    for (int i = lt; i < npx * kPlanes; i += 128) {
      const int px = i >> 3, c8 = i & 7;
      const int pr = px / s.wp, pc = px - pr * s.wp;
      const int iy = y0 - 1 + pr, ix = pc - 1;
      const bool in = iy >= 0 && iy < s.h && ix >= 0 && ix < s.w;
      const __half* src = in ? ximg + ((long long)iy * s.w + ix) * kC + 8 * c8 : x;
      cp_async16(patch + patch_bytes(c8, pr, pc, s.wp), src, in);
    }
    cp_async_wait_all();
    fence_proxy_async();
    bar_sync_wg(wg);

    // 3. 36 k16 steps: tap (dy, dx), 16 channels
    float acc[kAcc];
    // BEGIN c3rows turns (tests/test_conv3x3_rows_layout.py simulates them)
    if (turns && (k > 0 || wg > 0)) turn_wait(wg);  // the CTA's first strip waits for no one
    wgmma_fence();
#pragma unroll
    for (int t = 0; t < kSteps; ++t) {
      wgmma_m64n232k16(acc, desc_a0 + ((t * kAStepBytes) >> 4),
                       desc_b0 + (b_step_bytes(t, s.wp) >> 4), t > 0);
    }
    wgmma_commit();
    if (turns) {
      // the next strip in turn order: warpgroup wg + 1's k-th, or warpgroup 0's (k + 1)-th
      const long long next = wg + 1 < nwg ? st + 1 : st + groups - nwg + 1;
      if (next < s.strips) turn_pass(wg + 1 < nwg ? wg + 1 : 0);
    }
    // END c3rows turns
    wgmma_wait<0>();
    fence_operands(acc);
    bar_sync_wg(wg);  // every warp's wgmma done with the patch before the staging overwrites it

    // 4. bias, fp16, [pixel][channel] staging: accumulator 4j + e is channel m0 + 8 (e >> 1)
    //    of pixel 8j + 2 (lane % 4) + (e & 1)
    const int q2 = 2 * (lane & 3);
#pragma unroll
    for (int j = 0; j < kN / 8; ++j) {
      __half* p0 = stage + (8 * j + q2) * kStageStride + m0;
      p0[0] = __float2half_rn(acc[4 * j] + b0);
      p0[kStageStride] = __float2half_rn(acc[4 * j + 1] + b0);
      p0[8] = __float2half_rn(acc[4 * j + 2] + b1);
      p0[kStageStride + 8] = __float2half_rn(acc[4 * j + 3] + b1);
    }
    bar_sync_wg(wg);

    // 5. the strip's valid pixels out, 16 bytes (8 channels) a thread: residual, ReLU
    const int rows_here = s.h - y0 < s.rows ? s.h - y0 : s.rows;
    const long long out0 = ((long long)img * s.h + y0) * s.w * kC;
    for (int i = lt; i < rows_here * s.w * kPlanes; i += 128) {
      const int px = i >> 3, c8 = i & 7;
      const int r = px / s.w, xx = px - r * s.w;
      uint4 v = *reinterpret_cast<const uint4*>(stage + (r * s.wp + xx) * kStageStride + 8 * c8);
      const long long o = out0 + (long long)px * kC + 8 * c8;
      if (kResidual) {
        const uint4 rv = __ldg(reinterpret_cast<const uint4*>(res + o));
        uint32_t* vp = reinterpret_cast<uint32_t*>(&v);
        const uint32_t* rp = reinterpret_cast<const uint32_t*>(&rv);
#pragma unroll
        for (int u = 0; u < 4; ++u) {
          const float2 a = __half22float2(bits2h(vp[u])), b = __half22float2(bits2h(rp[u]));
          vp[u] = h2bits(__floats2half2_rn(a.x + b.x, a.y + b.y));
        }
      }
      if (kRelu) {
        uint32_t* vp = reinterpret_cast<uint32_t*>(&v);
#pragma unroll
        for (int u = 0; u < 4; ++u)
          vp[u] = h2bits(__hmax2_nan(bits2h(vp[u]), __floats2half2_rn(0.f, 0.f)));
      }
      *reinterpret_cast<uint4*>(y + o) = v;
    }
    bar_sync_wg(wg);  // the staging read before the next patch overwrites it
  }
#else
  // built without the sm_90a wgmma: the host never launches this (ait_conv3x3_rows checks
  // the build's arch list)
  __trap();
#endif
}

// Launches the kernel: one CTA per SM of kMaxWarpgroups when the strips give every warpgroup
// one; fewer strips: the fewest warpgroups a CTA that still spread them over every SM.
template <bool kResidual, bool kRelu>
int launch(const __half* x, const __half* w, const __half* b, const __half* res, __half* y,
           const Shape& s, cudaStream_t stream) {
  constexpr int kMaxDevices = 64;
  static int sms_per_device[kMaxDevices] = {};  // (benign race: same value)
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= kMaxDevices) return AIT_ERR_LAUNCH;
  const auto kernel = conv3x3_rows_kernel<kResidual, kRelu>;
  if (sms_per_device[dev] == 0) {
    int sms = 0;
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             smem_bytes(kMaxWarpgroups)) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
        sms <= 0)
      return AIT_ERR_LAUNCH;
    sms_per_device[dev] = sms;
  }
  const int sms = sms_per_device[dev];
  const long long per_cta = (s.strips + sms - 1) / sms;
  const int nwg = per_cta < kMaxWarpgroups ? int(per_cta) : kMaxWarpgroups;
  const long long ctas = (s.strips + nwg - 1) / nwg;
  const int grid = ctas < sms ? int(ctas) : sms;
  kernel<<<grid, 128 * nwg, smem_bytes(nwg), stream>>>(x, w, b, res, y, s);
  return cudaPeekAtLastError() == cudaSuccess ? AIT_OK : AIT_ERR_LAUNCH;
}

// Whether the kernel takes the conv `a`: a build for sm_90a, 64 -> 64 channels, 3x3 / stride 1
// / pad 1 / dilation 1, W <= kMaxWidth, 16-byte aligned tensors.
inline bool supported(const AitConv2dArgs& a, bool residual) {
#if defined(__CUDA_ARCH_LIST__) && __CUDA_ARCH_LIST__ == 900
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  return a.n >= 1 && a.c == kC && a.k == kC && a.r == 3 && a.s == 3 && a.pad_h == 1 &&
         a.pad_w == 1 && a.stride_h == 1 && a.stride_w == 1 && a.dilation_h == 1 &&
         a.dilation_w == 1 && a.h >= 1 && a.w_ >= 1 && a.w_ <= kMaxWidth && a.p == a.h &&
         a.q == a.w_ &&
         aligned(a.x) && aligned(a.w) && aligned(a.y) && a.bias != nullptr &&
         reinterpret_cast<uintptr_t>(a.bias) % 2 == 0 &&
         (!residual || (a.residual != nullptr && aligned(a.residual)));
#else
  (void)a;
  (void)residual;
  return false;
#endif
}

template <bool kResidual, bool kRelu>
int run(const AitConv2dArgs& a, cudaStream_t stream) {
  if (!supported(a, kResidual)) return AIT_ERR_CANNOT_IMPLEMENT;
  Shape s{};
  s.n = a.n;
  s.h = a.h;
  s.w = a.w_;
  s.wp = a.w_ + 2;
  s.rows = kN / s.wp;
  s.per_img = (a.h + s.rows - 1) / s.rows;
  s.strips = (long long)a.n * s.per_img;
  return launch<kResidual, kRelu>(
      static_cast<const __half*>(a.x), static_cast<const __half*>(a.w),
      static_cast<const __half*>(a.bias), static_cast<const __half*>(a.residual),
      static_cast<__half*>(a.y), s, stream);
}

}  // namespace c3rows
}  // namespace
#endif  // AIT_CONV3X3_ROWS_CU
