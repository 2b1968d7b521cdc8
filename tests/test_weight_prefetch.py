"""CPU-only: the kernels' L2 prefetch of their constants before the grid-dependency wait
(ait/backend/include/ait_prefetch.h). The host side decides the ranges (compiled and run here);
the templates put the prefetch first in their entries and pass the op's constants; the switch
reads the same off words as model.py. The GPU side (outputs bitwise equal with the prefetch on
and off) is tests/test_gpu_runtime.py::test_weight_prefetch_changes_no_bit."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import ait.runtime.model as model_mod
from ait.backend.nvcc import ABI_INCLUDE_DIR
from ait.backend.target import Target
from ait.ir.epilogue import BIAS_ADD_RELU, BIAS_RELU
from ait.ops.conv2d import cutlass3x, gemm3x, splitk
from ait.ops.conv2d.candidates import conv2d_candidates
from ait.ops.gemm import gemv
from ait.ops.gemm.candidates import gemm_candidates

HEADER = ABI_INCLUDE_DIR / "ait_prefetch.h"
H100 = Target.for_arch(90)


def test_the_header_reads_exactly_model_py_off_words():
    body = HEADER.read_text()
    body = body[body.index("inline bool ait_weight_prefetch_from_env"):].split("}")[0]
    assert 'ait_switch_on("AIT_WEIGHT_PREFETCH")' in body
    switch = (ABI_INCLUDE_DIR / "ait_switch.h").read_text()
    offs = re.search(r"for \(const char\* off : \{([^}]*)\}\)", switch).group(1)
    assert tuple(re.findall(r'"([^"]*)"', offs)) == model_mod.SWITCH_OFF


HOST_CHECK = r"""
#include <cstdio>
#include <cstdlib>
#include "ait_prefetch.h"
int main(int argc, char** argv) {
  if (argc > 1) setenv("AIT_WEIGHT_PREFETCH", argv[1], 1);
  const int on = ait_weight_prefetch_from_env() ? 1 : 0;
  // what a model's runtime and a profiler do: the env once, then the args' member
  AitConv2dArgs c{};
  c.w = reinterpret_cast<const void*>(0x1000); c.bias = reinterpret_cast<const void*>(0x9000);
  c.k = 256; c.r = 3; c.s = 3; c.c = 64; c.prefetch = on;
  AitGemmArgs g{};
  g.w = reinterpret_cast<const void*>(0x2000); g.bias = reinterpret_cast<const void*>(0x3000);
  g.n = 1000; g.k = 2048; g.prefetch = on;
  // the env is not read again: a launch after it changed follows the member
  setenv("AIT_WEIGHT_PREFETCH", on ? "0" : "1", 1);
  AitPrefetch a = ait_prefetch_of(c), b = ait_prefetch_of(g);
  AitPrefetch none = ait_prefetch_of(on != 0, nullptr, 64, c.bias, 16);
  std::printf("%d %llu %llu %llu %llu %llu %llu %p\n", on,
              a.bytes[0], a.bytes[1], b.bytes[0], b.bytes[1], none.bytes[0], none.bytes[1],
              a.ptr[1]);
  return 0;
}
"""


@pytest.fixture(scope="module")
def host_check(tmp_path_factory):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("no nvcc: the header needs the CUDA headers")
    d = tmp_path_factory.mktemp("prefetch")
    (d / "check.cpp").write_text(HOST_CHECK)
    subprocess.run([nvcc, "-std=c++17", f"-I{ABI_INCLUDE_DIR}", "-o", str(d / "check"),
                    str(d / "check.cpp")], check=True, capture_output=True)
    return d / "check"


@pytest.mark.parametrize("value,on", [(None, True), ("1", True), ("on", True), ("0", False),
                                      ("OFF", False), ("no", False), ("False", False)])
def test_the_host_side_passes_the_constants_sizes_or_nothing(host_check, value, on):
    args = [str(host_check)] + ([value] if value is not None else [])
    flag, *sizes, bias_ptr = subprocess.run(args, capture_output=True, text=True,
                                            check=True).stdout.split()
    conv_w, conv_b = 256 * 3 * 3 * 64 * 2, 256 * 2
    gemm_w, gemm_b = 1000 * 2048 * 2, 1000 * 2
    expect = [conv_w, conv_b, gemm_w, gemm_b, 0, 16] if on else [0] * 6
    assert int(flag) == int(on) and list(map(int, sizes)) == expect
    assert int(bias_ptr, 16) == 0x9000  # the pointers stay: only the sizes say "off"


def _hooked_candidates():
    out = []
    for c in conv2d_candidates(H100, BIAS_ADD_RELU, 256, 256, r=3, s=3, pad=(1, 1)):
        if isinstance(c, (cutlass3x.Conv2dCutlass3x, cutlass3x.Conv2dCutlass3xPersistent,
                          splitk.Conv2dSplitK)):
            out.append(c)
    out += [c for c in conv2d_candidates(H100, BIAS_RELU, 64, 256, r=1, s=1)
            if isinstance(c, gemm3x.Conv2dGemm3x)]
    out += [c for c in conv2d_candidates(H100, BIAS_RELU, 256, 512, r=1, s=1, stride=(2, 2))
            if isinstance(c, gemm3x.Conv2dGemm3x)]
    out += [c for c in gemm_candidates(H100, BIAS_RELU, 1000, 2048)
            if isinstance(c, gemv.GemmRcrGemv)]
    return out


def test_every_hooked_kernel_class_is_covered():
    kinds = {type(c).__name__ + ("_cluster" if getattr(c, "cluster", False) else "")
             for c in _hooked_candidates()}
    assert kinds >= {"Conv2dCutlass3x", "Conv2dCutlass3xPersistent", "Conv2dGemm3x",
                     "Conv2dSplitK", "GemmRcrGemv"}, kinds


def _entries_and_launches(text):
    """(entries taking an AitPrefetch, the text of each with its first statement)."""
    text = re.sub(r"//[^\n]*", "", text)
    entries = []
    for m in re.finditer(r"__global__[^{;]*\(([^)]*AitPrefetch[^)]*)\)\s*\{", text):
        entries.append(text[m.end():].strip().split(";")[0])
    return entries


@pytest.mark.parametrize("split", [False, True], ids=["object", "split"])
def test_each_entry_prefetches_first_and_each_launch_passes_the_constants(split):
    for cand in _hooked_candidates():
        if split and not getattr(cand, "splittable", False):
            continue
        src = cand.render(split=True) if split else cand.render()
        entries = _entries_and_launches(src)
        # the single-object 3.x conv launches through CUTLASS's own adapter: no entry of ours
        if isinstance(cand, cutlass3x.Conv2dCutlass3x) and not split:
            assert not entries and "ait_prefetch_of" not in src, cand.name
            continue
        assert entries, f"{cand.name}: no entry takes the prefetch ranges"
        for first in entries:
            assert first == "ait_prefetch_l2_share(pf)", (cand.name, first)
        assert "ait_prefetch_of(*a)" in src or "ait_prefetch_of(a)" in src, cand.name
