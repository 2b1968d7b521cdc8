"""The stem kernel's wgmma operands (ait/ops/stem/stem.cu, sm_90a) checked against CUTLASS's
cute without a GPU: a host program compiles stem.cu's `WgmmaB` block (the weight copy's layout
and its matrix descriptor) next to cute, once per AIT_STEM_B_SWIZZLE (0, the default: no
swizzle; 128: the 128-byte swizzle), and prints

  * cute's canonical K-major layout, element by element (the byte address of each element of
    a tensor at address 0, swizzle applied): no swizzle, a 64 x 16 (n, k) f16 block,
    tile_to_shape(GMMA::Layout_K_INTER_Atom<half_t>, (64, 16), k-tiles first); 128-byte
    swizzle, the whole 64 x K copy, tile_to_shape(GMMA::Layout_K_SW128_Atom<half_t>, (64, K));
    and WgmmaB::offset for every (n, k) of the largest K (C = 4: 256);
  * make_gmma_desc<Major::K> on step 0's 64 x 16 tile of that tensor (which static-asserts the
    layout is canonical) and WgmmaB::desc;
  * cute's register layouts of wgmma m64nNk16 (ALayout_64x16: A from registers, CLayout_64x64:
    the accumulators) as (thread, value) -> (m, k | n).

The test then checks that WgmmaB::offset is cute's layout in every k16 step, that the two
descriptors agree in every field, that the addresses the descriptor implies (cute's description
of a Major-K descriptor, _implied_byte) are WgmmaB::offset's for every step's descriptor, and
that the register layouts are the mma.sync m16n8k16 A / C fragments per warp which the
kernel's loads and epilogue assume."""
import re
import subprocess

import pytest

from ait.backend import nvcc
from ait.backend.target import Target
from ait.ops.stem.cuda import SOURCES
from tests.stem_util import compile_stem_checked

TARGET = Target.for_arch(90)
K = 256  # 64 C for C = 4

PROGRAM = r"""
#include <cstdio>
#include <cstdint>
#include <cute/tensor.hpp>
#include <cute/atom/mma_traits_sm90_gmma.hpp>

namespace {
%(block)s
}  // namespace

using namespace cute;

int main() {
#if AIT_STEM_B_SWIZZLE == 0
  // one k16 step's block (the steps follow each other)
  auto canon = tile_to_shape(SM90::GMMA::Layout_K_INTER_Atom<half_t>{}, Shape<_64, _16>{},
                             Step<_2, _1>{});
  constexpr int kc = 16;
#else
  // the whole copy: 64-k atom columns, 8-row atoms down n first
  auto canon = tile_to_shape(SM90::GMMA::Layout_K_SW128_Atom<half_t>{},
                             Shape<_64, Int<%(K)d>>{});
  constexpr int kc = %(K)d;
#endif
  // a tensor at address 0: cute applies the swizzle to the element's byte address, as the
  // hardware does (evaluating the composed layout alone would swizzle the element offset)
  Tensor t = make_tensor(make_smem_ptr(static_cast<half_t const*>(nullptr)), canon);
  for (int n = 0; n < 64; ++n)
    for (int k = 0; k < kc; ++k)
      printf("cute %%d %%d %%d\n", n, k,
             int(reinterpret_cast<uintptr_t>(raw_pointer_cast(&t(n, k))) / 2));
  for (int n = 0; n < 64; ++n)
    for (int k = 0; k < %(K)d; ++k) printf("ours %%d %%d %%d\n", n, k, WgmmaB::offset(n, k));
  for (int st = 0; st < %(K)d / 16; ++st) printf("step %%d %%u\n", st, WgmmaB::step_bytes(st));
  // step 0's 64 x 16 operand (on the host cute's smem pointer cast gives start address 0)
  Tensor t0 = local_tile(t, Shape<_64, _16>{}, make_coord(0, 0));
  GmmaDescriptor d = SM90::GMMA::make_gmma_desc<SM90::GMMA::Major::K>(t0);
  printf("desc_cute %%llx\n", (unsigned long long)d.desc_);
  printf("desc_ours %%llx\n", (unsigned long long)WgmmaB::desc(0));
  for (uint32_t a : {0x400u, 0x1230u, 0x2bff0u, 0x2c00u})
    printf("desc_at %%x %%llx\n", a, (unsigned long long)WgmmaB::desc(a));
  SM90::GMMA::ALayout_64x16 al;
  SM90::GMMA::CLayout_64x64 cl;
  for (int tid = 0; tid < 128; ++tid) {
    for (int v = 0; v < 8; ++v) printf("A %%d %%d %%d\n", tid, v, int(al(tid, v)));
    for (int v = 0; v < 32; ++v) printf("C %%d %%d %%d\n", tid, v, int(cl(tid, v)));
  }
  return 0;
}
"""


def _block() -> str:
    src = SOURCES[0].read_text()
    m = re.search(r"^// BEGIN wgmma B layout.*?$(.*?)^// END wgmma B layout", src,
                  re.MULTILINE | re.DOTALL)
    assert m, "stem.cu lost its BEGIN/END wgmma B layout markers"
    return m.group(1)


@pytest.fixture(scope="module", params=[0, 128], ids=["no_swizzle", "swizzle128"])
def dump(request, tmp_path_factory):
    """The program's output for AIT_STEM_B_SWIZZLE = 0 (the default) and 128."""
    tmp = tmp_path_factory.mktemp("wgmma_layout")
    (tmp / "layout.cu").write_text(PROGRAM % {"block": _block(), "K": K})
    exe = tmp / "layout"
    proc = subprocess.run([TARGET.nvcc, *nvcc.compile_flags(TARGET),
                           f"-DAIT_STEM_B_SWIZZLE={request.param}", str(tmp / "layout.cu"),
                           "-o", str(exe)], capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    d = {"cute": {}, "ours": {}, "A": {}, "C": {}, "desc_at": {}, "step": {},
         "swizzle": request.param}
    for line in out.splitlines():
        f = line.split()
        if not f or f[0] not in ("cute", "ours", "A", "C", "desc_at", "step", "desc_cute",
                                 "desc_ours"):
            continue  # cute's "cast_smem_ptr_to_uint not supported" note on the host
        if f[0] == "step":
            d["step"][int(f[1])] = int(f[2])
        elif f[0] in ("cute", "ours", "A", "C"):
            a, b, v = map(int, f[1:])
            d[f[0]][a, b] = v
        elif f[0] == "desc_at":
            d["desc_at"][int(f[1], 16)] = int(f[2], 16)
        else:
            d[f[0]] = int(f[1], 16)
    return d


def _fields(desc: int) -> dict:
    """cute's GmmaDescriptor bitfields (cute/arch/mma_sm90_desc.hpp)."""
    return {"start": desc & 0x3FFF, "lbo": (desc >> 16) & 0x3FFF, "sbo": (desc >> 32) & 0x3FFF,
            "base_offset": (desc >> 49) & 0x7, "layout": (desc >> 62) & 0x3,
            "reserved": desc & ~(0x3FFF | 0x3FFF << 16 | 0x3FFF << 32 | 0x7 << 49 | 0x3 << 62)}


def _implied_byte(desc: int, n: int, k: int) -> int:
    """Address of B element (n, k) of one m64nNk16 instruction, K-major: cute's Major-K
    canonical forms in uint128 units from the start address, plus (k % 8) halves inside the 16
    bytes: INTERLEAVE ((8, n), 2) : ((1, SBO), LBO); B128 ((8, n), 2) : ((8, SBO), 1), then the
    128-byte swizzle (Swizzle<3, 4, 3>: address bits [4, 7) ^= bits [7, 10)) of the absolute
    address, base offset 0."""
    f = _fields(desc)
    assert f["base_offset"] == 0 and f["layout"] in (0, 1)
    if f["layout"] == 0:
        u128 = f["start"] + (n % 8) + (n // 8) * f["sbo"] + (k // 8) * f["lbo"]
        return 16 * u128 + 2 * (k % 8)
    a = 16 * (f["start"] + 8 * (n % 8) + (n // 8) * f["sbo"] + k // 8) + 2 * (k % 8)
    return a ^ (((a >> 7) & 7) << 4)


pytestmark = [pytest.mark.nvcc,
              pytest.mark.skipif(TARGET.nvcc is None,
                                 reason="nvcc not found (CUDA_HOME, PATH, wheel)")]


def test_weight_copy_is_cutes_canonical_layout_in_every_step(dump):
    cute, ours = dump["cute"], dump["ours"]
    assert len(ours) == 64 * K
    if dump["swizzle"] == 0:
        assert len(cute) == 64 * 16
        for (n, k), off in ours.items():
            assert off == (k // 16) * 64 * 16 + cute[n, k % 16], (n, k)
    else:
        assert cute == ours
    assert sorted(ours.values()) == list(range(64 * K))  # a bijection onto 64 K halves


def test_descriptor_matches_cute(dump):
    ours, theirs = _fields(dump["desc_ours"]), _fields(dump["desc_cute"])
    assert ours == theirs, (ours, theirs)
    assert ours["reserved"] == 0
    if dump["swizzle"] == 0:
        assert ours["lbo"] * 16 == 128 and ours["sbo"] * 16 == 256 and ours["layout"] == 0
    else:
        assert ours["lbo"] == 1 and ours["sbo"] * 16 == 1024 and ours["layout"] == 1


def test_descriptor_implied_addresses(dump):
    """The kernel's step-st descriptor is desc(base) + step_bytes(st) / 16 (the start address
    field); every (n, k) it implies is the element's place in the copy (the copy's base is
    1 KB aligned for the swizzle)."""
    ours = dump["ours"]
    for base, desc0 in dump["desc_at"].items():
        assert _fields(desc0)["start"] == (base & 0x3FFFF) >> 4
        if dump["swizzle"] and base % 1024:
            continue
        for st in range(K // 16):
            assert dump["step"][st] % 16 == 0
            desc = desc0 + dump["step"][st] // 16
            for n in range(64):
                for k in range(16):
                    assert _implied_byte(desc, n, k) == base + 2 * ours[n, 16 * st + k], \
                        (hex(base), st, n, k)


def test_register_fragments_are_mma_sync_per_warp(dump):
    """ALayout_64x16 / CLayout_64x64 map (thread, value) to m + 64 * (k | n). Per warp w of the
    warpgroup they are m16n8k16's fragments for rows 16 w .. 16 w + 15: A register j (values
    2j, 2j + 1) = row g + 8 (j % 2), k 2t + 8 (j / 2) + {0, 1}; accumulator 4 nt + 2 r + c =
    row g + 8 r, channel 8 nt + 2t + c, which the kernel's load_a and epilogue assume."""
    for (tid, v), idx in dump["A"].items():
        w, g, t = tid // 32, tid % 32 // 4, tid % 4
        j, half = v // 2, v % 2
        assert idx == (16 * w + g + 8 * (j % 2)) + 64 * (2 * t + half + 8 * (j // 2)), (tid, v)
    for (tid, v), idx in dump["C"].items():
        w, g, t = tid // 32, tid % 32 // 4, tid % 4
        nt, r, c = v // 4, v // 2 % 2, v % 2
        assert idx == (16 * w + g + 8 * r) + 64 * (8 * nt + 2 * t + c), (tid, v)
    assert len(dump["A"]) == 128 * 8 and len(dump["C"]) == 128 * 32


def test_swizzled_variant_compiles_without_spills(tmp_path):
    """AIT_STEM_B_SWIZZLE=128 (an experiment, not the default) builds as the default does."""
    compile_stem_checked(TARGET, tmp_path / "s.o", "-DAIT_STEM_B_SWIZZLE=128")
