"""One real nvcc build (no GPU needed): a 2.x conv, a gemm and a profiler linked from the same
cached objects; then the object cache and compile errors. Skipped without nvcc."""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from typing import ClassVar

import pytest

from ait.backend import nvcc
from ait.backend.kernel import Family
from ait.backend.target import Target
from ait.ops.conv2d.candidates import conv2d_candidates
from ait.ir.epilogue import BIAS, BIAS_RELU
from ait.ops.gemm.candidates import gemm_candidates
from ait.tune.build import ProfilerSpec, build_profilers, kernel_objects

TARGET = Target.for_arch(90)
pytestmark = [
    pytest.mark.nvcc,
    pytest.mark.skipif(TARGET.nvcc is None, reason="nvcc not found (CUDA_HOME, PATH, wheel)"),
]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AIT_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_build_profilers_and_reuse_objects(cache):
    conv = conv2d_candidates(TARGET, BIAS_RELU, 64, 64)[0]
    gemm = gemm_candidates(TARGET, BIAS, 1000, 2048)[0]
    specs = [ProfilerSpec(Family.CONV2D, BIAS_RELU, (conv,)),
             ProfilerSpec(Family.GEMM, BIAS, (gemm,))]
    ready = []
    exes = build_profilers(TARGET, specs, on_ready=lambda s, p: ready.append((s, p)))
    assert sorted(ready, key=lambda sp: specs.index(sp[0])) == list(exes.items())
    for spec, prof in exes.items():
        assert os.access(prof.path, os.X_OK) and prof.names == tuple(spec.names)
        assert prof.failed == ()
        out = subprocess.run([str(prof.path), "--list"], capture_output=True, text=True,
                             timeout=60, check=False)
        assert out.returncode == 0
        assert json.loads(out.stdout) == {"candidates": spec.names}
        # batches are checked before any CUDA call: this runs without a GPU
        flag, shape = (("--n", ["--h", "8", "--w", "8", "--c", "64", "--k", "64", "--r", "3",
                                "--s", "3"]) if spec.family is Family.CONV2D
                       else ("--m", ["--n", "1000", "--k", "2048"]))
        bad = subprocess.run([str(prof.path), flag, "4", "0", *shape], capture_output=True,
                             text=True, timeout=60, check=False)
        assert bad.returncode == 2 and f"{flag}: batch 0 must be >= 1" in bad.stderr
    # The model links the very objects the profilers were linked from: nothing recompiles.
    objs = kernel_objects(TARGET, [conv, gemm])
    stamps = [o.stat().st_mtime_ns for o in objs]
    assert all(o.is_file() for o in objs)
    assert {o.parent.parent for o in objs} == {cache / "objects"}
    again = build_profilers(TARGET, specs)
    assert again == exes
    assert [o.stat().st_mtime_ns for o in kernel_objects(TARGET, [conv, gemm])] == stamps
    lib = nvcc.link_shared(TARGET, objs, cache / "libkernels.so")
    syms = subprocess.run(["nm", "-D", str(lib)], capture_output=True, text=True,
                          check=True).stdout
    assert conv.name in syms and f"{gemm.name}_workspace_bytes" in syms


def test_compile_error_names_source(cache):
    bad = nvcc.Source("broken_kernel", "#include \"ait_abi.h\"\nint f() { return undeclared; }\n")
    with pytest.raises(nvcc.NvccError) as e:
        nvcc.compile_objects(TARGET, [bad])
    msg = str(e.value)
    assert "broken_kernel" in msg and str(cache / "sources") in msg
    assert "undeclared" in msg  # nvcc's stderr tail
    kept = list((cache / "sources").glob("broken_kernel-*.cu"))
    assert len(kept) == 1 and "undeclared" in kept[0].read_text()
    good = nvcc.Source("fine_kernel", "#include \"ait_abi.h\"\nint g() { return AIT_OK; }\n")
    out = nvcc.compile_objects(TARGET, [bad, good], keep_going=True)
    assert isinstance(out[0], nvcc.NvccError) and out[1].is_file()


def test_object_key_ignores_include_paths():
    src = nvcc.Source("k", "int x;\n")
    moved = Target(TARGET.arch, TARGET.use_fp16_acc, TARGET.nvcc, ("/elsewhere/include",),
                   TARGET.cutlass_version)
    assert nvcc.object_key(TARGET, src) == nvcc.object_key(moved, src)
    assert nvcc.object_key(TARGET, src) != nvcc.object_key(Target.for_arch(80), src)


@dataclass(frozen=True)
class BrokenCandidate:
    """A conv candidate whose source does not compile."""

    family: ClassVar[Family] = Family.CONV2D
    compile_cost: ClassVar[float] = 1.0
    epilogue: object = BIAS_RELU
    name: str = "conv2d_broken_candidate"

    def render(self) -> str:
        return '#include "ait_abi.h"\nint broken() { return undeclared_thing; }\n'


def test_a_kernel_that_does_not_compile_is_left_out(cache, caplog):
    conv = conv2d_candidates(TARGET, BIAS_RELU, 64, 64)[0]
    spec = ProfilerSpec(Family.CONV2D, BIAS_RELU, (BrokenCandidate(), conv))
    (prof,) = build_profilers(TARGET, [spec]).values()
    assert prof.names == (conv.name,)  # the profiler main was rebuilt for the kernel left
    assert [n for n, _ in prof.failed] == ["conv2d_broken_candidate"]
    assert "undeclared_thing" in prof.failed[0][1]
    assert "conv2d_broken_candidate does not compile" in caplog.text
    out = subprocess.run([str(prof.path), "--list"], capture_output=True, text=True,
                         timeout=60, check=False)
    assert json.loads(out.stdout) == {"candidates": [conv.name]}


def test_kernels_of_one_unit_share_an_object(cache):
    """Two epilogues of one 2.x tile compile in one translation unit; both profilers link its
    object, and the model build links that same object (once) for either kernel."""
    relu, plain = (conv2d_candidates(TARGET, ep, 64, 64)[0] for ep in (BIAS_RELU, BIAS))
    specs = [ProfilerSpec(Family.CONV2D, BIAS_RELU, (relu,)),
             ProfilerSpec(Family.CONV2D, BIAS, (plain,))]
    exes = build_profilers(TARGET, specs)
    objects = sorted((cache / "objects").rglob("*.o"))
    assert len([o for o in objects if "_tu2_" in o.name]) == 1
    assert len(objects) == 3  # the unit and two profiler mains
    for spec, prof in exes.items():
        out = subprocess.run([str(prof.path), "--list"], capture_output=True, text=True,
                             timeout=60, check=False)
        assert json.loads(out.stdout) == {"candidates": spec.names}
    (obj,) = kernel_objects(TARGET, [plain, relu])
    assert "_tu2_" in obj.name and kernel_objects(TARGET, [plain]) == [obj]
    syms = subprocess.run(["nm", str(obj)], capture_output=True, text=True, check=True).stdout
    assert f" T {relu.name}\n" in syms and f" T {plain.name}\n" in syms


@dataclass(frozen=True)
class GroupableCandidate:
    """Two of these differ only in the epilogue, so they share a translation unit; the one
    with `broken` in its epilogue does not compile."""

    family: ClassVar[Family] = Family.CONV2D
    compile_cost: ClassVar[float] = 1.0
    epilogue: str

    @property
    def name(self) -> str:
        return f"conv2d_groupable_{self.epilogue}"

    def render(self) -> str:
        body = "undeclared_thing" if self.epilogue == "broken" else "AIT_OK"
        return (f'#include "ait_abi.h"\nextern "C" int {self.name}() {{ return {body}; }}\n'
                f'extern "C" size_t {self.name}_workspace_bytes() {{ return 0; }}\n')


def test_a_broken_kernel_does_not_take_its_unit_down(cache, caplog):
    good, bad = GroupableCandidate("fine"), GroupableCandidate("broken")
    conv = conv2d_candidates(TARGET, BIAS_RELU, 64, 64)[0]
    spec = ProfilerSpec(Family.CONV2D, BIAS_RELU, (conv, bad, good))
    (prof,) = build_profilers(TARGET, [spec]).values()
    assert prof.names == (conv.name, good.name)
    assert [n for n, _ in prof.failed] == [bad.name]
    assert "compiling its kernels one by one" in caplog.text
