// The ResNet stem by whole conv rows on Hopper (sm_90a): the op of stem.cu (space-to-depth pad
// 3 -> 4x4/1 conv to 64 channels with bias + ReLU -> 3x3/2 pad-1 max pool, on the raw NHWC fp16
// image) with the matrix product's roles swapped. Why: stem.cu's wgmma takes the 64 output
// channels as N (m64n64k16) and every thread loads its pixels' A fragments from shared memory
// at every k step; Nsight Compute found it issue- and latency-bound (IPC 1.9, the integer pipe
// the busiest), and in the model it ran at 22% of the op's floor.
//
// Here one wgmma m64n112k16 computes all 64 channels (M) of a whole conv output row (N = 112
// pixels, q <= 112) for 16 k of the 8x8 s2d filter, both operands through matrix descriptors
// (no per-thread operand loads at all):
//  * A = the weights, copied once per CTA into the canonical no-swizzle K-major layout (core
//    matrices of 8 rows x 16 bytes; a 2 KB block per k16 step).
//  * B = the image. Each raw image row is kept with 4 channels a pixel (8 bytes, channel 3
//    zero), raw column x at byte 8 (x + 3), so the 8 columns 2j - 3 .. 2j + 4 that conv pixel j
//    reads in one filter row are the 64 bytes from 16 j on. In the same canonical layout
//    consecutive pixels are 16 bytes apart (SBO 128 for 8 of them) and the second 8 k of a k16
//    step are the next 16 bytes (LBO 16): the core matrices overlap, which the descriptor
//    allows, so the strided conv's im2col is never written anywhere.
//  * K order (rr, cc, c): filter row rr (raw row 2i - 3 + rr of conv row i), column cc (raw
//    column 2j - 3 + cc), channel c < 4; K = 256, two k16 steps a filter row. The 8th filter
//    row's two steps are skipped when its weights are all zero (any 7x7 filter); the 8th column
//    and channel 3 multiply zeros.
// Work: one CTA per SM of up to 4 warpgroups (fewer when the pooled rows are few). Warpgroup g
// of G takes the pooled rows [T g / G, T (g + 1) / G) of the T = n Po in (image, row) order and,
// for each image's run [a, b) of them, computes conv rows 2a - 1 .. 2b - 1 in order:
//  * a ring of 16 raw rows in shared memory: the 8 rows of a conv row, and the 2 new ones of the
//    next, stored while the tensor cores work on this one (loaded into registers a conv row
//    earlier, so the global latency hides behind a whole row);
//  * after each conv row: bias, fp16, the 3x3/2 max across columns in registers (one shuffle
//    per 8 pixels brings the left neighbour) and a running max across rows; ReLU once on the
//    pooled value (max and ReLU commute; both propagate NaN, ait_nan.h, as PyTorch does);
//  * each finished pooled row leaves through shared memory as coalesced 16-byte stores.
// While one warpgroup runs its epilogue, the others' wgmma keep the tensor cores busy. (Two
// accumulator sets in one warpgroup, the next row's wgmma in flight during the epilogue, made
// ptxas serialize every wgmma: C7514 / C7518.)
#include <cuda_fp16.h>
#include <cstdint>
#include <climits>
#include "ait_abi.h"
#include "ait_pdl.h"
#include "ait_nan.h"
#include "ait_sm90.h"

#define AIT_ROWS_WGMMA AIT_SM90_WGMMA

// stem.cu's kernel: every case this one does not take
extern "C" int ait_stem_conv_pool(const void* x, const void* w, const void* bias, void* y, int n,
                                  int h, int w_, int c, int p, int q, int po, int qo,
                                  cudaStream_t stream);

// Internal linkage throughout (see stem.cu: a static local shared across model .so files);
// the inner name keeps it apart from stem.cu's in one translation unit.
namespace {
namespace rows {
using namespace sm90;  // ait_sm90.h: descriptors, fences, barriers, bit casts

#ifndef AIT_STEM_ROWS_MAX_WARPGROUPS
#define AIT_STEM_ROWS_MAX_WARPGROUPS 4
#endif
// warpgroups a CTA at most (one CTA per SM; the launch takes fewer when the rows are few)
constexpr int kMaxWarpgroups = AIT_STEM_ROWS_MAX_WARPGROUPS, kMaxThreads = 128 * kMaxWarpgroups;
constexpr int kN = 112;                      // conv pixels a row (the wgmma's N): q <= kN
constexpr int kOut = 64;                     // output channels (the wgmma's M)
[[maybe_unused]] constexpr int kS2dChannels = 16;  // the s2d weight's last dim
[[maybe_unused]] constexpr int kSteps = 16;        // k16 steps: 8 filter rows x 2
constexpr int kRing = 16;                    // raw rows in a warpgroup's ring (a power of 2)
constexpr int kRowBytes = (2 * kN + 6) * 8;  // raw columns -3 .. 2 kN + 2, 8 bytes each
constexpr int kGroups = kN / 4;              // 8-pixel groups of a raw row (2 kN pixels)
constexpr int kPooledCols = kN / 2;
constexpr int kOutStride = kOut + 8;         // halves a pooled pixel in the out staging
constexpr int kRingBytes = kRing * kRowBytes;
constexpr int kOutBytes = kPooledCols * kOutStride * 2;
constexpr int kACopyBytes = kOut * kSteps * 16 * 2;  // A: 64 x 256 halves
constexpr int kWgBytes = kRingBytes + kOutBytes;     // a warpgroup's ring and out staging
[[maybe_unused]] constexpr int smem_bytes(int warpgroups) {
  return kACopyBytes + warpgroups * kWgBytes;
}
[[maybe_unused]] constexpr int kAccRegs = kN / 2;  // m64n112 fp32 accumulators a thread
static_assert(kRowBytes % 16 == 0 && kOutBytes % 16 == 0 && kACopyBytes % 16 == 0,
              "16-byte aligned regions");
static_assert(kMaxWarpgroups >= 1 && kMaxWarpgroups <= 4, "512 threads at most; barriers 1..4");
static_assert(2 * kGroups <= 128 && 8 * kGroups <= 2 * 128,
              "ring loads: one (row, group) a thread, two in the prologue");
static_assert(kN % 8 == 0 && kN <= 256, "wgmma N");

struct RowsShape {
  int n, h, w, p, q, po, qo;
  long long rows;  // n * po pooled rows
};

#if AIT_ROWS_WGMMA
// 8 raw pixels (group gi of a row) as loaded: C 16-byte chunks = 8 C halves
template <int C> struct Chunk { uint4 v[C]; };

template <int C>
__device__ __forceinline__ Chunk<C> load_chunk(const __half* ximg, int y, int gi,
                                               const RowsShape& s) {
  Chunk<C> ch;
  const int row_halves = s.w * C;
#pragma unroll
  for (int u = 0; u < C; ++u) {
    const int e = 8 * (C * gi + u);
    ch.v[u] = y >= 0 && y < s.h && e < row_halves
                  ? __ldg(reinterpret_cast<const uint4*>(ximg + (long long)y * row_halves + e))
                  : make_uint4(0, 0, 0, 0);
  }
  return ch;
}

// The group's pixels into raw row y's ring slot: pixel x at byte 8 (x + 3), channels c < C then
// zeros. Pixels >= W are never written (zero since the ring was cleared), nor columns < 0.
template <int C>
__device__ __forceinline__ void store_chunk(unsigned char* ring, int y, int gi,
                                            const Chunk<C>& ch, const RowsShape& s) {
  const __half* hv = reinterpret_cast<const __half*>(ch.v);
  unsigned char* row = ring + (y & (kRing - 1)) * kRowBytes;
#pragma unroll
  for (int k = 0; k < 8; ++k) {
    const int x = 8 * gi + k;
    if (x >= s.w) break;
    __half px[4];
#pragma unroll
    for (int c = 0; c < 4; ++c) px[c] = c < C ? hv[k * C + c] : __float2half(0.f);
    *reinterpret_cast<uint2*>(row + 8 * (x + 3)) = *reinterpret_cast<const uint2*>(px);
  }
}


// BEGIN rows descriptors (tests/test_stem_rows_layout.py models them)
// B (N = pixels x K, K-major, no swizzle) for conv pixels 0.. of one filter row: start = the ring
// slot + 32 bytes per k16 step, LBO (the second 8 k) 16 bytes, SBO (the next 8 pixels) 128
constexpr uint32_t kLBO = 16, kSBO = 128;
__device__ __forceinline__ uint64_t b_desc(uint32_t smem_addr) {
  return uint64_t((smem_addr & 0x3FFFF) >> 4) | uint64_t(kLBO >> 4) << 16 |
         uint64_t(kSBO >> 4) << 32;
}
// A (M = 64 channels x K, K-major, no swizzle; stem.cu's WgmmaBLayout<0>): element (m, k) at
// halves a_offset(m, k); step st's block starts 2 KB * st in; LBO 128 (the second 8 k), SBO
// 256 (the next 8 rows)
constexpr uint32_t kALBO = 128, kASBO = 256, kAStepBytes = 2048;
__host__ __device__ constexpr int a_offset(int m, int k) {
  return (k >> 4) * int(kAStepBytes / 2) + (m >> 3) * int(kASBO / 2) +
         ((k >> 3) & 1) * int(kALBO / 2) + (m & 7) * 8 + (k & 7);
}
__device__ __forceinline__ uint64_t a_desc(uint32_t smem_addr) {
  return uint64_t((smem_addr & 0x3FFFF) >> 4) | uint64_t(kALBO >> 4) << 16 |
         uint64_t(kASBO >> 4) << 32;
}
// END rows descriptors

// d (+)= a * b: m64n112k16, A and B K-major through their descriptors; accumulate = 0
// overwrites d
__device__ __forceinline__ void wgmma_m64n112k16(float (&d)[kAccRegs], uint64_t desc_a,
                                                 uint64_t desc_b, int accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %58, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n112k16.f32.f16.f16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, "
      "%19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, "
      "%36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, "
      "%53, %54, %55}, %56, %57, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]),
        "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]),
        "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
        "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]),
        "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]),
        "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]),
        "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]),
        "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]),
        "+f"(d[55])
      : "l"(desc_a), "l"(desc_b), "r"(accumulate));
}

// issues conv row r's kRun k16 steps (filter row st / 2 = raw row 2r - 3 + st / 2 of the ring)
// and commits them; a run length per instantiation, so that no wgmma sits on a divergent path
// (ptxas then serializes them, warning C7520)
template <int kRun>
__device__ __forceinline__ void conv_row(float (&acc)[kAccRegs], uint64_t desc_a0,
                                         uint64_t desc_b0, int r) {
  fence_operands(acc);
  wgmma_fence();
#pragma unroll
  for (int st = 0; st < kRun; ++st) {
    const int slot = (2 * r - 3 + (st >> 1)) & (kRing - 1);
    wgmma_m64n112k16(acc, desc_a0 + st * (kAStepBytes >> 4),
                     desc_b0 + ((slot * kRowBytes + 32 * (st & 1)) >> 4), st > 0);
  }
  wgmma_commit();
}

// the pooled value v (pre-ReLU, channels c0, c0 + 8 of pooled column col) into the out staging,
// ReLU applied
__device__ __forceinline__ void stage_pooled(__half* osm, int col, int c0, __half2 v) {
  v = __hmax2_nan(v, __floats2half2_rn(0.f, 0.f));
  __half* dst = osm + col * kOutStride + c0;
  dst[0] = __low2half(v);
  dst[8] = __high2half(v);
}

// conv row r's epilogue up to the pool: bias, fp16, the max over conv columns 2j - 1 .. 2j + 1
// for pooled column j = 4i + t (channels c0, c0 + 8 as half2), then the running max across rows
// (pooled row pi takes conv rows 2 pi - 1 .. 2 pi + 1). With `emit` (an odd r that ends pooled
// row (r - 1) / 2) that row goes into the out staging. Pre-ReLU values: padding and conv
// columns >= q are -inf (kFull: q = kN, none).
template <bool kFull>
__device__ __forceinline__ void pool_row(const float (&acc)[kAccRegs], float b0, float b1,
                                         int lane, int t, int c0, int q, int r, bool emit,
                                         uint32_t (&run)[kPooledCols / 4], __half* osm) {
  const __half2 ninf = __half2half2(__ushort_as_half(0xFC00));
  uint32_t prev = h2bits(ninf);  // conv column -1: padding
#pragma unroll
  for (int i = 0; i < kPooledCols / 4; ++i) {
    const int col = 8 * i + 2 * t;
    __half2 e = __floats2half2_rn(acc[4 * i] + b0, acc[4 * i + 2] + b1);
    __half2 o = __floats2half2_rn(acc[4 * i + 1] + b0, acc[4 * i + 3] + b1);
    if (!kFull) {
      if (col >= q) e = ninf;
      if (col + 1 >= q) o = ninf;
    }
    // the left neighbour, conv column 8i + 2t - 1: lane t - 1's o (t = 0: lane t + 3's o of
    // group i - 1, which this shuffle brought in the last round)
    const uint32_t left_src = __shfl_sync(0xffffffffu, h2bits(o), (lane & ~3) | ((t + 3) & 3));
    const uint32_t left = t ? left_src : prev;
    prev = left_src;
    const __half2 hmax = __hmax2_nan(__hmax2_nan(e, o), bits2h(left));
    if (r & 1) {
      if (emit) stage_pooled(osm, 4 * i + t, c0, __hmax2_nan(bits2h(run[i]), hmax));
      run[i] = h2bits(hmax);
    } else {
      run[i] = h2bits(__hmax2_nan(bits2h(run[i]), hmax));
    }
  }
}
#endif  // AIT_ROWS_WGMMA

template <int C>
__global__ void __launch_bounds__(kMaxThreads, 1)
stem_rows_kernel(const __half* __restrict__ x, const __half* __restrict__ wt,
                 const __half* __restrict__ bias, __half* __restrict__ y, RowsShape s) {
  ait_wait_prior_grids();
#if AIT_ROWS_WGMMA
  extern __shared__ __align__(16) unsigned char smem[];
  // wg through a shuffle from lane 0: ptxas then knows it is the same in every lane, and so is
  // every branch around the wgmma that depends on it (else it serializes them, C7518)
  const int tid = threadIdx.x, wg = __shfl_sync(0xffffffffu, tid >> 7, 0), lt = tid & 127;
  const int warp = lt >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  const int nwg = blockDim.x >> 7;  // warpgroups in this CTA (launch: 1 .. kMaxWarpgroups)
  unsigned char* acopy = smem;

  // 1. the A copy straight from the weight, one 16-byte chunk (8 k of one row m) at a time: k
  //    = 32 rr + 4 cc + c with cc = 2e + d over d = 0, 1 reads the 2C consecutive s2d channels
  //    from (2b) C on of s2d tap (a, e), rr = 2a + b; channel 3 of each cc is zero. And whether
  //    the 8th filter row (k >= 224) is all zero. The rings cleared meanwhile: their columns
  //    outside the image stay zero (the conv padding).
  bool nonzero_last = false;
  for (int ch = tid; ch < kOut * kSteps * 2; ch += blockDim.x) {
    const int m = ch / (kSteps * 2), k0 = 8 * (ch - m * (kSteps * 2));
    const int rr = k0 >> 5, e = (k0 & 31) >> 3;
    const __half* src = wt + ((m * 4 + (rr >> 1)) * 4 + e) * kS2dChannels + 2 * (rr & 1) * C;
    __half v[8];
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      v[c] = c < C ? src[c] : __float2half(0.f);
      v[4 + c] = c < C ? src[C + c] : __float2half(0.f);
    }
    const uint4 chunk = *reinterpret_cast<const uint4*>(v);
    nonzero_last |= rr == 7 && (chunk.x | chunk.y | chunk.z | chunk.w) & 0x7FFF7FFFu;
    *reinterpret_cast<uint4*>(acopy + 2 * a_offset(m, k0)) = chunk;
  }
  for (int i = tid; i < nwg * kWgBytes / 16; i += blockDim.x)
    reinterpret_cast<uint4*>(acopy + kACopyBytes)[i] = make_uint4(0, 0, 0, 0);
  const float b0 = __half2float(bias[16 * warp + g]), b1 = __half2float(bias[16 * warp + g + 8]);
  fence_proxy_async();  // the A copy, written through the generic proxy, read by wgmma
  const bool skip_last = !__syncthreads_or(nonzero_last);

  unsigned char* ring = acopy + kACopyBytes + wg * kWgBytes;
  __half* osm = reinterpret_cast<__half*>(ring + kRingBytes);
  const uint64_t desc_a0 = a_desc(static_cast<uint32_t>(__cvta_generic_to_shared(acopy)));
  const uint64_t desc_b0 = b_desc(static_cast<uint32_t>(__cvta_generic_to_shared(ring)));
  const int c0 = 16 * warp + g;  // this thread's channels c0, c0 + 8
  const bool full = s.q == kN;
  const auto issue = [&](float (&acc)[kAccRegs], int r) {
    if (skip_last)
      conv_row<kSteps - 2>(acc, desc_a0, desc_b0, r);
    else
      conv_row<kSteps>(acc, desc_a0, desc_b0, r);
  };

  const long long groups = (long long)nwg * gridDim.x, gid = (long long)nwg * blockIdx.x + wg;
  long long lo = s.rows * gid / groups;
  const long long hi = s.rows * (gid + 1) / groups;
  while (lo < hi) {
    const int img = int(lo / s.po), pa = int(lo % s.po);
    const int pb = int(pa + (hi - lo) < s.po ? pa + (hi - lo) : s.po);  // pooled rows [pa, pb)
    lo += pb - pa;
    const __half* ximg = x + (long long)img * s.h * s.w * C;
    const int first = pa > 0 ? 2 * pa - 1 : 0;
    const int last = 2 * pb - 1 < s.p ? 2 * pb - 1 : s.p - 1;

    // 2. the ring: raw rows 2 first - 3 .. 2 first + 4 (conv row first), all loads before the
    //    stores (one global latency); the two new rows of conv row first + 1 into registers
    {
      Chunk<C> pro[2];
#pragma unroll
      for (int u = 0; u < 2; ++u) {
        const int pair = lt + 128 * u;
        if (pair < 8 * kGroups)
          pro[u] = load_chunk<C>(ximg, 2 * first - 3 + pair / kGroups, pair % kGroups, s);
      }
#pragma unroll
      for (int u = 0; u < 2; ++u) {
        const int pair = lt + 128 * u;
        if (pair < 8 * kGroups)
          store_chunk<C>(ring, 2 * first - 3 + pair / kGroups, pair % kGroups, pro[u], s);
      }
    }
    const bool loader = lt < 2 * kGroups;
    const int gi = lt % kGroups;
    int next_y = 2 * first + 5 + lt / kGroups;
    Chunk<C> next;
    if (loader && first + 1 <= last) next = load_chunk<C>(ximg, next_y, gi, s);
    fence_proxy_async();

    uint32_t run[kPooledCols / 4];  // running max across conv rows, half2 (c0, c0 + 8)
#pragma unroll
    for (int i = 0; i < kPooledCols / 4; ++i) run[i] = 0xFC00FC00u;  // conv row -1: padding
    for (int r = first; r <= last; ++r) {
      bar_sync_wg(wg);  // ring rows stored (and fenced) by every thread of the warpgroup
      float acc[kAccRegs];
      issue(acc, r);
      // 3. while the tensor cores work: conv row r + 1's new rows into the ring (slots this
      //    row does not read: rows 2r + 5, 2r + 6 against 2r - 3 .. 2r + 4), r + 2's loaded
      if (r < last) {
        if (loader) store_chunk<C>(ring, next_y, gi, next, s);
        fence_proxy_async();
        next_y += 2;
        if (loader && r + 1 < last) next = load_chunk<C>(ximg, next_y, gi, s);
      }
      wgmma_wait<0>();
      fence_operands(acc);
      const int pi = (r - 1) >> 1;
      const bool emit_in_loop = (r & 1) && pi >= pa;
      const bool emit_after = r == last && last < 2 * pb - 1;  // row 2 pb - 1 is padding
      if (full)
        pool_row<true>(acc, b0, b1, lane, t, c0, s.q, r, emit_in_loop, run, osm);
      else
        pool_row<false>(acc, b0, b1, lane, t, c0, s.q, r, emit_in_loop, run, osm);
      if (emit_in_loop || emit_after) {
        // 4. the pooled row (never both: last < 2 pb - 1 means last = p - 1 = 2 pb - 2, an
        //    even row, whose pooled row is the running max) through shared memory: thread
        //    (g, t) staged channels c0, c0 + 8 of pooled columns 4i + t; 16-byte rows of 8
        //    channels out
        const int out_row = emit_in_loop ? pi : pb - 1;
        if (emit_after) {
#pragma unroll
          for (int i = 0; i < kPooledCols / 4; ++i)
            stage_pooled(osm, 4 * i + t, c0, bits2h(run[i]));
        }
        bar_sync_wg(wg);
        __half* yrow = y + ((long long)img * s.po + out_row) * s.qo * kOut;
        for (int v = lt; v < s.qo * (kOut / 8); v += 128) {
          const int col = v >> 3, cv = v & 7;
          *reinterpret_cast<uint4*>(yrow + col * kOut + cv * 8) =
              *reinterpret_cast<const uint4*>(osm + col * kOutStride + cv * 8);
        }
      }
    }
    // the next run's prologue rewrites ring slots and the out staging that this run's last
    // rows used
    bar_sync_wg(wg);
  }
#else
  // built without the sm_90a wgmma: the host never launches this (ait_stem_conv_pool_rows
  // checks the build's arch list)
  __trap();
#endif
}

template <int C>
int launch(const __half* x, const __half* w, const __half* b, __half* y, const RowsShape& s,
           cudaStream_t stream) {
  constexpr int kMaxDevices = 64;
  static int sms_per_device[kMaxDevices] = {};  // (benign race: same value)
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= kMaxDevices) return AIT_ERR_LAUNCH;
  if (sms_per_device[dev] == 0) {
    int sms = 0, per_sm = 0;
    if (cudaFuncSetAttribute(stem_rows_kernel<C>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             smem_bytes(kMaxWarpgroups)) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, stem_rows_kernel<C>, kMaxThreads,
                                                      smem_bytes(kMaxWarpgroups)) != cudaSuccess ||
        per_sm < 1 || sms <= 0)
      return AIT_ERR_LAUNCH;
    sms_per_device[dev] = sms;
  }
  // One CTA per SM with kMaxWarpgroups when the pooled rows give every warpgroup one; fewer
  // rows: the fewest warpgroups a CTA that still spread them over every SM (at batch 1, 56
  // CTAs of one: a CTA's prologue and its warpgroups' turns at the tensor cores are the latency)
  const int sms = sms_per_device[dev];
  const long long per_cta = (s.rows + sms - 1) / sms;
  const int nwg = per_cta < kMaxWarpgroups ? int(per_cta) : kMaxWarpgroups;
  const long long ctas = (s.rows + nwg - 1) / nwg;
  const int grid = ctas < sms ? int(ctas) : sms;
  stem_rows_kernel<C><<<grid, 128 * nwg, smem_bytes(nwg), stream>>>(x, w, b, y, s);
  return cudaPeekAtLastError() == cudaSuccess ? AIT_OK : AIT_ERR_LAUNCH;
}

}  // namespace rows
}  // namespace

// ait_stem_conv_pool's arguments and result. This kernel where it applies (a build for sm_90a,
// RGB rows of 16-byte multiples, conv rows of at most 112 pixels, aligned pointers); else
// stem.cu's.
extern "C" int ait_stem_conv_pool_rows(const void* x, const void* w, const void* bias, void* y,
                                       int n, int h, int w_, int c, int p, int q, int po, int qo,
                                       cudaStream_t stream) {
#if defined(__CUDA_ARCH_LIST__) && __CUDA_ARCH_LIST__ == 900
  const auto aligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; };
  if (n > 0 && c == 3 && h >= 1 && w_ >= 1 && p >= 1 && q >= 1 && q <= rows::kN && po >= 1 &&
      qo >= 1 && qo <= rows::kPooledCols && w_ <= 2 * rows::kN && (long long)w_ * c % 8 == 0 &&
      (long long)h * w_ * c <= INT32_MAX && aligned(x) && aligned(w) && aligned(y) &&
      reinterpret_cast<uintptr_t>(bias) % 2 == 0) {
    const rows::RowsShape s{n, h, w_, p, q, po, qo, (long long)n * po};
    return rows::launch<3>(static_cast<const __half*>(x), static_cast<const __half*>(w),
                     static_cast<const __half*>(bias), static_cast<__half*>(y), s, stream);
  }
#endif
  return ait_stem_conv_pool(x, w, bias, y, n, h, w_, c, p, q, po, qo, stream);
}
