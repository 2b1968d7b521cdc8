// The whole ResNet stem in one kernel: space-to-depth (pad 3) -> 4x4/1 conv to 64 channels
// with bias + ReLU -> 3x3/2 pad-1 max pool, i.e. the 7x7/2 pad-3 conv + max pool on the raw
// NHWC fp16 image [N, H, W, C <= 4]; the conv output never goes through global memory.
//
// A CTA (8 warps, persistent over tiles) owns 7x8 pooled outputs = a 15x17 conv region
// (255 pixels, M = 256), recomputing the halo row/column it shares with its neighbours.
//  * input patch: 36 x 40 raw pixels (zero outside the image = the conv padding), two buffers
//    in shared memory; the A fragment of conv pixel (i, j) at raw-row tap rr reads 8C halves
//    of patch row 2i + rr, so the K order is (rr, cc, c): K = 8 rows x 8 cols x C (= 192 for
//    RGB), read with 32-bit loads. Where the image's rows are 16-byte aligned (W C % 8 == 0)
//    and the filter's 8th tap column is zero (any 7x7 one), the next tile's patch is copied
//    by cp.async in 16-byte chunks while this tile is computed, and the taps of column j are
//    raw columns 2j - 4 .. 2j + 3 (the first one's weight zero), which keeps the A loads
//    32-bit aligned at odd C. Else each tile's patch is loaded by scalar loads, taps
//    2j - 3 .. 2j + 4. (The async copy: 0.300 against 0.339 ms at batch 256 on the H200.)
//  * weight: the s2d weight [64, 4, 4, 16] rearranged to [64 n][K] once per CTA; channels
//    >= 4C multiply zeros in the unfused graph and are dropped. When the last k16 step's
//    weights are all zero (the 8th tap row of a 7x7 filter) the step is skipped.
//  * sm_90a: Hopper warpgroup MMA, wgmma.mma_async m64n64k16 f16 -> f32, A (pixels) from
//    registers, B (weights) from shared memory through a matrix descriptor, so the tensor core
//    reads each k-step's weights once per instruction instead of every warp loading all 64
//    channels' weights through ldmatrix. Two warpgroups; warpgroup wg owns tile rows
//    [128 wg, 128 wg + 128) as two m64 instructions per k-step (mt = 0, 1), warp w of the
//    warpgroup rows 16 w .. 16 w + 15 of each (the RS A fragment of a warp and the m64nN D
//    fragment of a warp are mma.sync m16n8k16's A and C layouts for its 16 rows: cute's
//    ALayout_64x16 / CLayout_64xN). The weight copy is cute's canonical K-major no-swizzle
//    (INTERLEAVE) layout ((8,n),2):((1,SBO),LBO) in 16-byte units, one 2 KB block per k16
//    step (or, built with AIT_STEM_B_SWIZZLE=128, the 128-byte swizzle: WgmmaB below;
//    tests/test_stem_wgmma_layout.py checks both against cute), made visible to wgmma's async
//    proxy by fence.proxy.async. Per k-step: wgmma.fence, the two wgmma, commit; wait_group 1
//    frees the A registers of the step before, which then take the next step's fragments
//    (double buffer); wait_group 0 before the epilogue reads the accumulators.
//    Other archs (the sm_80 build): mma.sync m16n8k16, each warp 32 pixels x 64 channels,
//    B by ldmatrix from a padded [64][K + 8] copy.
//  * epilogue: + bias, ReLU, round to fp16 into shared memory (conv pixels outside the conv
//    output are written as 0: they are pool padding, and every window also holds a valid
//    pixel >= 0 after ReLU, so 0 never wins over it); then the 3x3/2 max from shared memory.
//    ReLU and max propagate NaN (ait_nan.h), as PyTorch does.
#include <cuda_fp16.h>
#include <cstdint>
#include <climits>
#include "ait_abi.h"
#include "ait_pdl.h"
#include "ait_nan.h"
#include "ait_sm90.h"

#define AIT_STEM_WGMMA AIT_SM90_WGMMA
// the wgmma weight copy's layout: 0 no swizzle, 128 the 128-byte swizzle (WgmmaB below)
#ifndef AIT_STEM_B_SWIZZLE
#define AIT_STEM_B_SWIZZLE 0
#endif

// Internal linkage throughout: a static local of a function with external linkage (the grid
// cache in launch) is one STB_GNU_UNIQUE symbol shared by every model .so in the process, so a
// second model would skip its own kernel's shared-memory opt-in and fail to launch.
namespace {
using namespace sm90;  // ait_sm90.h: fences, cp.async

constexpr int kThreads = 256;
constexpr int kTileP = 7, kTileQ = 8;                            // pooled outputs per CTA
constexpr int kConvRows = 2 * kTileP + 1, kConvCols = 2 * kTileQ + 1;  // 15 x 17
constexpr int kM = 256;                                          // >= 255 conv pixels
constexpr int kPatchRows = 2 * kConvRows + 6, kPatchCols = 2 * kConvCols + 6;  // 36 x 40
constexpr int kOut = 64;                                         // output channels
constexpr int kS2dChannels = 16;                                 // the s2d weight's last dim
constexpr int kConvStride = kOut + 8;                            // halves per conv pixel row

template <int C> struct Geometry {
  static constexpr int kK = 64 * C;                 // 8 x 8 taps x C
  static constexpr int kSteps = kK / 16;
  static constexpr int kRowK = 8 * C;               // K per raw-row tap
  static constexpr int kWStride = kK + 8;           // weight row: 16 B aligned, ldmatrix
                                                    // conflict-free (stride = 16 mod 128 B)
  // The patch: 36 rows of kPatchStride halves, two buffers. The async copy (issue_patch)
  // moves rows as 16-byte chunks, the window of conv column j at raw columns 2j - 4 .. 2j + 3;
  // kBaseA: the halves from a row's first chunk to the window of the tile's first conv column
  // ((2 c0 - 4) C mod 8 with c0 = 16 tw - 1, the same in every tile), kRowChunks the chunks a
  // row needs (40 C halves from kBaseA on). The scalar load (load_patch) puts the window of
  // 2j - 3 .. 2j + 4 at 2jC. kPatchStride: 16-byte aligned rows with the fewest A-load
  // wavefronts (simulated: 1.03x the conflict-free count at C = 3, 1.4x at C = 4).
  static constexpr int kBaseA = (8 - (6 * C) % 8) % 8;
  static constexpr int kRowChunks = (kBaseA + 40 * C + 7) / 8;
  static constexpr int kPatchStride = C == 1 ? 64 : C == 2 ? 104 : C == 3 ? 152 : 168;
  static constexpr int kPatchHalves = kPatchRows * kPatchStride;  // one buffer
  static constexpr int kPatchRegion = 2 * kPatchHalves;
  static_assert(kPatchStride % 8 == 0 && kPatchStride >= 8 * kRowChunks &&
                    kPatchStride >= kPatchCols * C,
                "patch rows: 16-byte aligned, holding either patch kind");
  static_assert(kOut * kWStride % 8 == 0 && kPatchHalves % 8 == 0,
                "cp.async destinations: both patch buffers 16-byte aligned");
  static constexpr int kSmemBytes =
      2 * (kOut * kWStride + kPatchRegion + kM * kConvStride) + 4 * kOut +
      (AIT_STEM_B_SWIZZLE ? 1024 : 0);  // slack to align the swizzled weight copy
};

__device__ __forceinline__ uint32_t lds32(const __half* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}

#if !AIT_STEM_WGMMA
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const __half* p) {
  const uint32_t a = static_cast<uint32_t>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}

__device__ __forceinline__ void mma16816(float* d, const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, "
      "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

#endif

// BEGIN wgmma B layout (tests/test_stem_wgmma_layout.py compiles this block against cute)
// The weight copy for wgmma's B operand (N = 64 output channels x K, K-major), in one of cute's
// canonical Major-K layouts; AIT_STEM_B_SWIZZLE picks which (0 the default; 128 an experiment).
//  0: no swizzle (INTERLEAVE), ((8,n),2):((1,SBO),LBO) in 16-byte units: core matrices of 8
//     rows (n) x 16 bytes (8 consecutive k), each 128 contiguous bytes; in a k16 step the two
//     core matrices of an 8-row group (k 0..7, 8..15) lie LBO apart, the 8-row groups SBO
//     apart; one 2 KB block per k16 step.
//  128: 128-byte swizzle (B128), ((8,n),2):((8,SBO),1): atoms of 8 rows x 64 k (128 bytes a
//     row, the 16-byte chunk c of row r stored at chunk c ^ r), 8-row groups SBO = 1 KB apart,
//     the 64-k atom columns 8 KB apart; a k16 step starts 32 bytes into its atom column (the
//     hardware swizzles the absolute address, so the copy is 1 KB aligned).
// step_bytes(st) advances the descriptor's start address from step 0 to step st.
template <int kSwizzle> struct WgmmaBLayout;
template <> struct WgmmaBLayout<0> {
  static constexpr uint32_t kLBO = 128;                  // leading dimension byte offset (K)
  static constexpr uint32_t kSBO = 256;                  // stride byte offset (8-row groups)
  static constexpr uint32_t kStepBytes = 64 / 8 * kSBO;  // 2048: 64 n x 16 k halves
  static constexpr uint32_t kAlign = 16;                 // bytes, of the copy's start
  static constexpr uint32_t kLayoutType = 0;             // INTERLEAVE
  // halves from the start of the copy to element (n, k)
  __host__ __device__ static constexpr int offset(int n, int k) {
    return (k >> 4) * int(kStepBytes / 2) + (n >> 3) * int(kSBO / 2) +
           ((k >> 3) & 1) * int(kLBO / 2) + (n & 7) * 8 + (k & 7);
  }
  __host__ __device__ static constexpr uint32_t step_bytes(int st) { return st * kStepBytes; }
};
template <> struct WgmmaBLayout<128> {
  static constexpr uint32_t kLBO = 16;     // unused by swizzled Major-K layouts (cute sets 1)
  static constexpr uint32_t kSBO = 1024;   // 8 rows x 128 bytes
  static constexpr uint32_t kAtomColumnBytes = 64 / 8 * kSBO;  // 8192: 64 n x 64 k halves
  static constexpr uint32_t kAlign = 1024;
  static constexpr uint32_t kLayoutType = 1;  // B128
  __host__ __device__ static constexpr int offset(int n, int k) {
    return (k >> 6) * int(kAtomColumnBytes / 2) + (n >> 3) * int(kSBO / 2) + (n & 7) * 64 +
           ((((k >> 3) & 7) ^ (n & 7)) << 3) + (k & 7);
  }
  __host__ __device__ static constexpr uint32_t step_bytes(int st) {
    return (st >> 2) * kAtomColumnBytes + (st & 3) * 32;
  }
};
struct WgmmaB : WgmmaBLayout<AIT_STEM_B_SWIZZLE> {
  // cute's GmmaDescriptor: start address >> 4 in bits [0, 14), LBO >> 4 in [16, 30), SBO >> 4
  // in [32, 46), base offset 0 in [49, 52) (the copy is kAlign aligned), layout type in [62, 64)
  __host__ __device__ static constexpr uint64_t desc(uint32_t smem_addr) {
    return uint64_t((smem_addr & 0x3FFFF) >> 4) | uint64_t(kLBO >> 4) << 16 |
           uint64_t(kSBO >> 4) << 32 | uint64_t(kLayoutType) << 62;
  }
};
// END wgmma B layout
// (n, k) -> (n + 8, k) is SBO; step 1 starts at (0, 16); the copy is a bijection onto 64 K
// halves (tests/test_stem_wgmma_layout.py checks every element against cute)
template <class L> constexpr bool wgmma_b_layout_ok() {
  return L::offset(8, 0) * 2 == int(L::kSBO) && L::offset(0, 16) * 2 == int(L::step_bytes(1)) &&
         L::kLBO % 16 == 0 && L::kAlign % 16 == 0 && L::kLayoutType < 4;
}
static_assert(wgmma_b_layout_ok<WgmmaBLayout<0>>() && wgmma_b_layout_ok<WgmmaBLayout<128>>(),
              "WgmmaB layouts");
static_assert(AIT_STEM_B_SWIZZLE ||
                  WgmmaB::desc(0x12340) == (0x1234ull | 8ull << 16 | 16ull << 32),
              "WgmmaB desc");

#if AIT_STEM_WGMMA
// d (+)= a * b: m64n64k16, A from registers (K-major), B K-major through its descriptor;
// accumulate = 0 overwrites d
__device__ __forceinline__ void wgmma_m64n64k16(float (&d)[32], const uint32_t (&a)[4],
                                                uint64_t desc, int accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
      "{%32, %33, %34, %35}, %36, p, 1, 1, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]),
        "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]),
        "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
        "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]),
        "+f"(d[31])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(accumulate));
}
#endif

// tile row (conv pixel m) of fragment row g + 8 r of this warp's m-tile mt
__device__ __forceinline__ int tile_row(int warp, int mt, int g, int r) {
#if AIT_STEM_WGMMA
  return 128 * (warp >> 2) + 64 * mt + 16 * (warp & 3) + g + 8 * r;
#else
  return 32 * warp + 16 * mt + g + 8 * r;
#endif
}

struct StemShape {
  int n, h, w, p, q, po, qo, tiles_h, tiles_w;
  long long tiles;
  bool async_ok;  // image rows and base 16-byte aligned: the async patch copy may be used
};

// the A fragment of k16 step st (rows pix[mt][0], pix[mt][1]; K = 16 st + 8 h + 2t + {0, 1}:
// raw-row tap (16 st + 8 h) / 8C, offset within it)
template <int C>
__device__ __forceinline__ void load_a(uint32_t (&a)[2][4], const __half* patch,
                                       const int (&pix)[2][2], int st) {
  using G = Geometry<C>;
  const int k0 = 16 * st, k1 = 16 * st + 8;
  const int off0 = (k0 / G::kRowK) * G::kPatchStride + k0 % G::kRowK;
  const int off1 = (k1 / G::kRowK) * G::kPatchStride + k1 % G::kRowK;
#pragma unroll
  for (int mt = 0; mt < 2; ++mt) {
    a[mt][0] = lds32(patch + pix[mt][0] + off0);
    a[mt][1] = lds32(patch + pix[mt][1] + off0);
    a[mt][2] = lds32(patch + pix[mt][0] + off1);
    a[mt][3] = lds32(patch + pix[mt][1] + off1);
  }
}

#if AIT_STEM_WGMMA
// the warpgroup's 128 rows x 64 channels over kRun k16 steps: acc[mt] = rows 64 mt .. + 63 of
// the warpgroup (this warp: 16 of them). The A registers are double-buffered: step st + 1's
// are loaded while step st's two wgmma run, into the buffer of step st - 1, which
// wait_group 1 has retired. wgmma.fence before each step's wgmma: its A registers were just
// written (and, at step 0, the accumulators were read by the last tile's epilogue).
template <int C, int kRun>
__device__ __forceinline__ void conv_wgmma(float (&acc)[2][32], const __half* patch,
                                           const int (&pix)[2][2], uint64_t desc0) {
  uint32_t a[2][2][4];
  load_a<C>(a[0], patch, pix, 0);
  fence_operands(acc[0]);
  fence_operands(acc[1]);
#pragma unroll
  for (int st = 0; st < kRun; ++st) {
    wgmma_fence();
    const uint64_t desc = desc0 + (WgmmaB::step_bytes(st) >> 4);
    wgmma_m64n64k16(acc[0], a[st & 1][0], desc, st > 0);
    wgmma_m64n64k16(acc[1], a[st & 1][1], desc, st > 0);
    wgmma_commit();
    if (st + 1 < kRun) {
      wgmma_wait<1>();
      load_a<C>(a[(st + 1) & 1], patch, pix, st + 1);
    }
  }
  wgmma_wait<0>();
  fence_operands(acc[0]);
  fence_operands(acc[1]);
}
#endif


struct TileAt {
  int img, pi0, pj0, r0, c0;  // image, first pooled row / col, first conv row / col
  __device__ TileAt(long long tile, const StemShape& s) {
    const int tw = int(tile % s.tiles_w);
    const long long rest = tile / s.tiles_w;
    const int th = int(rest % s.tiles_h);
    img = int(rest / s.tiles_h);
    pi0 = th * kTileP;
    pj0 = tw * kTileQ;
    r0 = 2 * pi0 - 1;
    c0 = 2 * pj0 - 1;
  }
};

// The async patch (rows of W C halves 16-byte aligned, the image 16-byte aligned, and the 8th
// filter column zero: StemShape::async_ok and the kernel's weight check): the tile's 36 raw rows
// as kRowChunks 16-byte chunks each, from the chunk holding the window of conv column c0
// (raw column 2 c0 - 4) on, copied by cp.async; a chunk outside the image is zero-filled,
// exactly the conv padding, because the image's row ends are chunk boundaries (W C % 8 == 0).
// No registers hold the patch, and the copy of the next tile runs while this one is computed.
template <int C>
__device__ __forceinline__ void issue_patch(__half* buf, const __half* x, const TileAt& at,
                                            const StemShape& s, int tid) {
  using G = Geometry<C>;
  const int y0 = 2 * at.r0 - 3;
  const int e0 = ((2 * at.c0 - 4) * C) & ~7;  // first chunk's element (floor to 8, may be < 0)
  const int row_halves = s.w * C;
  const __half* ximg = x + (long long)at.img * s.h * row_halves;
  constexpr int kChunks = kPatchRows * G::kRowChunks;
  for (int i = tid; i < kChunks; i += kThreads) {
    const int row = i / G::kRowChunks, ch = i - row * G::kRowChunks;
    const int yy = y0 + row, e = e0 + 8 * ch;
    const bool in = yy >= 0 && yy < s.h && e >= 0 && e < row_halves;
    cp_async16(buf + row * G::kPatchStride + 8 * ch,
               in ? ximg + (long long)yy * row_halves + e : x, in);
  }
}

// The scalar patch (any shape): zero outside the image. The thread's loads are issued in two
// rounds, each before its stores: a load-store loop waits out one global latency per element
// (17 per tile for RGB: the kernel ran at a sixth of its floor on the H200).
template <int C>
__device__ __forceinline__ void load_patch(__half* patch, const __half* x, const TileAt& at,
                                           const StemShape& s, int tid) {
  using G = Geometry<C>;
  const int y0 = 2 * at.r0 - 3, xe0 = (2 * at.c0 - 3) * C;  // first raw row, row element
  const __half* ximg = x + (long long)at.img * s.h * s.w * C;
  constexpr int kRowHalves = kPatchCols * C;
  constexpr int kPatchElems = kPatchRows * kRowHalves;
  constexpr int kLoads = (kPatchElems + kThreads - 1) / kThreads;
  constexpr int kRoundP = (kLoads + 1) / 2;  // two rounds: 128 registers hold one without spills
#pragma unroll
  for (int r0 = 0; r0 < kLoads; r0 += kRoundP) {
    __half v[kRoundP];
#pragma unroll
    for (int j = 0; j < kRoundP; ++j) {
      const int i = tid + (r0 + j) * kThreads;
      const int row = i / kRowHalves, e = i - row * kRowHalves;
      const int yy = y0 + row, xe = xe0 + e;
      v[j] = __float2half(0.f);
      if (i < kPatchElems && yy >= 0 && yy < s.h && xe >= 0 && xe < s.w * C)
        v[j] = ximg[(long long)yy * s.w * C + xe];
    }
#pragma unroll
    for (int j = 0; j < kRoundP; ++j) {
      const int i = tid + (r0 + j) * kThreads;
      const int row = i / kRowHalves, e = i - row * kRowHalves;
      if (i < kPatchElems) patch[row * G::kPatchStride + e] = v[j];
    }
  }
}

// The shared-memory regions after the weight copy wsm: the two patch buffers
// [36][kPatchStride], the conv tile [256][kConvStride], the bias as fp32 [64]. Recomputed
// where needed: held across the tile loop, these pointers cost registers the conv needs.
template <int C> struct Smem {
  __device__ static __half* patch(__half* wsm) { return wsm + kOut * Geometry<C>::kWStride; }
  __device__ static __half* conv(__half* wsm) { return patch(wsm) + Geometry<C>::kPatchRegion; }
  __device__ static float* bias(__half* wsm) {
    return reinterpret_cast<float*>(conv(wsm) + kM * kConvStride);
  }
};

// this thread's A rows: pixels m = tile_row(warp, mt, g, r); patch offsets (+2t) for a patch
// whose first conv column's window starts `base` halves into its rows
template <int C>
__device__ __forceinline__ void a_rows(int (&pix)[2][2], int warp, int g, int t, int base) {
#pragma unroll
  for (int mt = 0; mt < 2; ++mt)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      int m = tile_row(warp, mt, g, r);
      if (m >= kConvRows * kConvCols) m = 0;  // the padding row of M: any valid address
      const int li = m / kConvCols, lj = m - li * kConvCols;
      pix[mt][r] = 2 * li * Geometry<C>::kPatchStride + 2 * lj * C + 2 * t + base;
    }
}

// conv (patch -> accumulators), bias + ReLU into `conv`, barrier, 3x3/2 max pool -> y. The
// caller's barrier made the patch visible; the next tile's barrier orders this pool's reads of
// `conv` before the next conv tile is written.
template <int C>
__device__ __forceinline__ void conv_pool_tile(__half* wsm, bool skip_last, __half* y,
                                               const __half* patch, const int (&pix)[2][2],
                                               const TileAt& at, const StemShape& s) {
  using G = Geometry<C>;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
  __half* conv = Smem<C>::conv(wsm);
  const float* bsm = Smem<C>::bias(wsm);
  // 2. conv: acc[mt][4 nt + v] = the m16n8 C fragment (row g + 8 (v / 2), channel
  //    8 nt + 2t + v % 2) of this warp's rows tile_row(warp, mt, ...)
  float acc[2][32];
#if AIT_STEM_WGMMA
  const uint64_t desc0 = WgmmaB::desc(static_cast<uint32_t>(__cvta_generic_to_shared(wsm)));
  if (skip_last)
    conv_wgmma<C, G::kSteps - 1>(acc, patch, pix, desc0);
  else
    conv_wgmma<C, G::kSteps>(acc, patch, pix, desc0);
#else
  // ldmatrix lane address: matrix lane / 8 -> (n + 8 * (q / 2), k + 8 * (q % 2))
  const int q4 = lane >> 3;
  const __half* wlane = wsm + ((q4 >> 1) * 8 + (lane & 7)) * G::kWStride + (q4 & 1) * 8;
#pragma unroll
  for (int mt = 0; mt < 2; ++mt)
#pragma unroll
    for (int v = 0; v < 32; ++v) acc[mt][v] = 0.f;
#pragma unroll
  for (int st = 0; st < G::kSteps; ++st) {
    if (st == G::kSteps - 1 && skip_last) break;
    uint32_t a[2][4];
    load_a<C>(a, patch, pix, st);
#pragma unroll
    for (int np = 0; np < 4; ++np) {
      uint32_t b[4];
      ldmatrix_x4(b, wlane + np * 16 * G::kWStride + 16 * st);
#pragma unroll
      for (int mt = 0; mt < 2; ++mt) {
        mma16816(&acc[mt][4 * (2 * np)], a[mt], b[0], b[1]);
        mma16816(&acc[mt][4 * (2 * np + 1)], a[mt], b[2], b[3]);
      }
    }
  }
#endif

  // 3. bias + ReLU -> fp16 conv tile in shared memory; outside the conv output: 0
#pragma unroll
  for (int mt = 0; mt < 2; ++mt)
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int m = tile_row(warp, mt, g, r);
      const int li = m / kConvCols, lj = m - li * kConvCols;
      const bool valid = m < kConvRows * kConvCols && at.r0 + li >= 0 && at.r0 + li < s.p &&
                         at.c0 + lj >= 0 && at.c0 + lj < s.q;
#pragma unroll
      for (int nt = 0; nt < 8; ++nt) {
        const int ch = nt * 8 + 2 * t;
        const float v0 = ait_relu(acc[mt][4 * nt + 2 * r] + bsm[ch]);
        const float v1 = ait_relu(acc[mt][4 * nt + 2 * r + 1] + bsm[ch + 1]);
        *reinterpret_cast<__half2*>(conv + m * kConvStride + ch) =
            valid ? __floats2half2_rn(v0, v1) : __floats2half2_rn(0.f, 0.f);
      }
    }
  __syncthreads();

  // 4. 3x3/2 max pool: one 8-channel vector of one pooled pixel per thread and round
  constexpr int kVecs = kOut / 8;
  for (int i = tid; i < kTileP * kTileQ * kVecs; i += kThreads) {
    const int pp = i / kVecs, cv = i - pp * kVecs;
    const int pi = pp / kTileQ, pj = pp - pi * kTileQ;
    if (at.pi0 + pi >= s.po || at.pj0 + pj >= s.qo) continue;
    const __half* base = conv + (2 * pi * kConvCols + 2 * pj) * kConvStride + cv * 8;
    uint4 best = *reinterpret_cast<const uint4*>(base);
#pragma unroll
    for (int di = 0; di < 3; ++di)
#pragma unroll
      for (int dj = 0; dj < 3; ++dj) {
        if (di == 0 && dj == 0) continue;
        const uint4 v =
            *reinterpret_cast<const uint4*>(base + (di * kConvCols + dj) * kConvStride);
        __half2* bh = reinterpret_cast<__half2*>(&best);
        const __half2* vh = reinterpret_cast<const __half2*>(&v);
#pragma unroll
        for (int k = 0; k < 4; ++k) bh[k] = __hmax2_nan(bh[k], vh[k]);
      }
    const long long o =
        (((long long)at.img * s.po + at.pi0 + pi) * s.qo + at.pj0 + pj) * kOut + cv * 8;
    *reinterpret_cast<uint4*>(y + o) = best;
  }
}

template <int C>
__global__ void __launch_bounds__(kThreads, 2)
stem_conv_pool_kernel(const __half* __restrict__ x, const __half* __restrict__ wt,
                      const __half* __restrict__ bias, __half* __restrict__ y, StemShape s) {
  ait_wait_prior_grids();
  using G = Geometry<C>;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  unsigned char* smem = smem_raw;
#if AIT_STEM_WGMMA
  // the weight copy starts WgmmaB::kAlign aligned (kSmemBytes holds the slack)
  smem += (WgmmaB::kAlign -
           static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw)) % WgmmaB::kAlign) %
          WgmmaB::kAlign;
#endif
  __half* wsm = reinterpret_cast<__half*>(smem);  // [64][kWStride] (wgmma: WgmmaB, 64 * K)
  __half* patch = Smem<C>::patch(wsm);
  float* bsm = Smem<C>::bias(wsm);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;

  // The async patch puts conv column j's window at raw columns 2j - 4 .. 2j + 3 (even
  // offsets for the 32-bit A loads at any C), one column left of the scalar path's
  // 2j - 3 .. 2j + 4: it needs the weight's 8th tap column (raw offset +4, the s2d weight's
  // e = 3, d = 1) to be zero, as it is for any 7x7 filter.
  bool nonzero_col = false;
  for (int i = tid; i < kOut * 8 * C; i += kThreads) {
    const int n = i / (8 * C), rem = i - n * 8 * C, rr = rem / C, c = rem - rr * C;
    nonzero_col |= __half2float(wt[((n * 4 + (rr >> 1)) * 4 + 3) * kS2dChannels +
                                   ((rr & 1) * 2 + 1) * C + c]) != 0.f;
  }
  const bool async = s.async_ok && !__syncthreads_or(nonzero_col);
  const int shift = async ? 1 : 0;  // the filter column of the weight copy's tap column cc

  // weight [64, 4, 4, 16] (s2d: [n, a, e, (2b + d) * C + c]) -> wsm[n][(2a+b) * 8C + cc * C + c]
  // with 2e + d = cc - shift (in rounds of 16 loads per thread issued before their stores:
  // one global latency per round, not per element)
  bool nonzero_last = false;
  constexpr int kWElems = kOut * G::kK, kRound = 16;
  for (int base = tid; base < kWElems; base += kRound * kThreads) {
    __half v[kRound];
#pragma unroll
    for (int j = 0; j < kRound; ++j) {
      const int i = base + j * kThreads;
      const int n = i / G::kK, k = i - n * G::kK;
      const int rr = k / G::kRowK, rem = k - rr * G::kRowK, cc = rem / C - shift,
                c = rem - (cc + shift) * C;
      v[j] = i < kWElems && cc >= 0 ? wt[((n * 4 + (rr >> 1)) * 4 + (cc >> 1)) * kS2dChannels +
                                         ((rr & 1) * 2 + (cc & 1)) * C + c]
                                    : __float2half(0.f);
    }
#pragma unroll
    for (int j = 0; j < kRound; ++j) {
      const int i = base + j * kThreads;
      const int n = i / G::kK, k = i - n * G::kK;
      if (i < kWElems) {
#if AIT_STEM_WGMMA
        wsm[WgmmaB::offset(n, k)] = v[j];
#else
        wsm[n * G::kWStride + k] = v[j];
#endif
        nonzero_last |= k >= G::kK - 16 && __half2float(v[j]) != 0.f;
      }
    }
  }
  if (tid < kOut) bsm[tid] = __half2float(bias[tid]);
#if AIT_STEM_WGMMA
  // the weight copy was written through the generic proxy; wgmma reads it through the async
  // proxy
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
#endif
  const bool skip_last = !__syncthreads_or(nonzero_last);

  // Two patch buffers, tile i's in buffer i & 1. The async copy of tile i + 1 is issued before
  // tile i's conv, into the buffer tile i - 1's conv read, which every thread finished before
  // that tile's pool barrier; the scalar load of tile i waits for its loads itself.
  int pix[2][2];
  a_rows<C>(pix, warp, g, t, async ? G::kBaseA : 0);
  long long tile = blockIdx.x;
  if (async && tile < s.tiles) issue_patch<C>(patch, x, TileAt(tile, s), s, tid);
  if (async) cp_async_commit();
  for (int i = 0; tile < s.tiles; tile += gridDim.x, ++i) {
    const TileAt at(tile, s);
    __half* buf = patch + (i & 1) * G::kPatchHalves;
    if (async) {
      const long long next = tile + gridDim.x;
      if (next < s.tiles)
        issue_patch<C>(patch + ((i + 1) & 1) * G::kPatchHalves, x, TileAt(next, s), s, tid);
      cp_async_commit();
      cp_async_wait<1>();  // this tile's copy (the group before the one just committed)
    } else {
      load_patch<C>(buf, x, at, s, tid);
    }
    __syncthreads();
    conv_pool_tile<C>(wsm, skip_last, y, buf, pix, at, s);
  }
  if (async) cp_async_wait<0>();
}

template <int C>
int launch(const __half* x, const __half* w, const __half* b, __half* y, const StemShape& s,
           cudaStream_t stream) {
  constexpr int kMaxDevices = 64;
  static int grid_per_device[kMaxDevices] = {};  // resident CTAs (benign race: same value)
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= kMaxDevices)
    return AIT_ERR_LAUNCH;
  constexpr int kSmem = Geometry<C>::kSmemBytes;
  if (grid_per_device[dev] == 0) {
    int sms = 0, per_sm = 0;
    if (cudaFuncSetAttribute(stem_conv_pool_kernel<C>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             kSmem) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, stem_conv_pool_kernel<C>, kThreads,
                                                      kSmem) != cudaSuccess ||
        sms * per_sm <= 0)
      return AIT_ERR_LAUNCH;
    grid_per_device[dev] = sms * per_sm;
  }
  const long long grid = s.tiles < grid_per_device[dev] ? s.tiles : grid_per_device[dev];
  stem_conv_pool_kernel<C><<<int(grid), kThreads, kSmem, stream>>>(x, w, b, y, s);
  return cudaPeekAtLastError() == cudaSuccess ? AIT_OK : AIT_ERR_LAUNCH;
}

}  // namespace

// x [n, h, w, c] raw image (c <= 4), w the s2d weight [64, 4, 4, 16], bias [64];
// y [n, po, qo, 64] with p, q the conv output size ((h + 7) / 2 - 3) and po, qo the pool's.
extern "C" int ait_stem_conv_pool(const void* x, const void* w, const void* bias, void* y, int n,
                                  int h, int w_, int c, int p, int q, int po, int qo,
                                  cudaStream_t stream) {
  if (c < 1 || c > 4 || h < 1 || w_ < 1 || p < 1 || q < 1 || po < 1 || qo < 1 ||
      reinterpret_cast<uintptr_t>(y) % 16 || reinterpret_cast<uintptr_t>(x) % 2)
    return AIT_ERR_CANNOT_IMPLEMENT;
  if (n <= 0) return AIT_OK;
  if ((long long)h * w_ * c > INT32_MAX) return AIT_ERR_CANNOT_IMPLEMENT;
  StemShape s{n,  h, w_, p, q, po, qo, (po + kTileP - 1) / kTileP, (qo + kTileQ - 1) / kTileQ,
              0, (long long)w_ * c % 8 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0};
  s.tiles = (long long)n * s.tiles_h * s.tiles_w;
  const __half* xi = static_cast<const __half*>(x);
  const __half* wi = static_cast<const __half*>(w);
  const __half* bi = static_cast<const __half*>(bias);
  __half* yo = static_cast<__half*>(y);
  switch (c) {
    case 1: return launch<1>(xi, wi, bi, yo, s, stream);
    case 2: return launch<2>(xi, wi, bi, yo, s, stream);
    case 3: return launch<3>(xi, wi, bi, yo, s, stream);
    default: return launch<4>(xi, wi, bi, yo, s, stream);
  }
}
