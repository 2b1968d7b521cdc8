"""nvcc's flags (issue 11, docs/compile_time.md): kernel TUs and profiler mains take the
cheaper host flags (their host code runs at record time or in a profiler only), the model's
runtime TU keeps g++ -O3; nothing that reaches the device compile differs; the object cache
key covers the flags. The last test compiles one 2.x kernel both ways and compares the
embedded device code byte for byte (nvcc and objcopy needed)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from ait.backend import nvcc
from ait.backend.target import Target
from ait.ir.epilogue import BIAS, BIAS_RELU
from ait.ops.conv2d.candidates import conv2d_candidates
from ait.ops.gemm.candidates import gemm_candidates
from ait.tune.build import ProfilerSpec, single_source, translation_units

RENDER_ONLY = Target.for_arch(90, nvcc="nvcc")
TARGET = Target.for_arch(90)


def _without_level(flags: list[str]) -> list[str]:
    return [f for f in flags if f not in ("-O1", "-O3")]


@pytest.mark.parametrize("arch", [90, 80])
def test_cold_flags_differ_from_the_runtime_ones_only_in_the_host_level(arch):
    t = Target.for_arch(arch, nvcc="nvcc")
    hot, cold = nvcc.compile_flags(t), nvcc.compile_flags(t, host_cold=True)
    assert "-O3" in hot and "-O1" not in hot
    assert "-O1" in cold and "-O3" not in cold
    assert _without_level(hot) == _without_level(cold)
    for flags in (hot, cold):  # g++'s collector off for both; the device flags kept
        assert "--param=ggc-min-heapsize=2097152" in flags
        assert {"--expt-relaxed-constexpr", "-DNDEBUG", "-std=c++17"} <= set(flags)
        assert flags[flags.index("-gencode") + 1] == t.gencode()[1]
    # nothing that changes device code: no device optimisation, debug or math flags
    banned = ("-G", "-lineinfo", "--use_fast_math", "-Xptxas", "-Xcicc", "-Ofc", "-dopt",
              "--split-compile", "--extra-device-vectorization")
    assert not set(banned) & set(cold), set(banned) & set(cold)


def test_kernel_units_and_profiler_mains_are_cold():
    convs = conv2d_candidates(RENDER_ONLY, BIAS_RELU, 64, 64)[:2]
    gemm = gemm_candidates(RENDER_ONLY, BIAS, 1000, 2048)[0]
    assert all(single_source(c).host_cold for c in (*convs, gemm))
    units = translation_units([*convs, gemm])
    assert units and all(u.source.host_cold for u in units)
    spec = ProfilerSpec(convs[0].family, BIAS_RELU, tuple(convs))
    assert spec.main_source(RENDER_ONLY).host_cold


def test_the_model_runtime_tu_keeps_host_O3(monkeypatch, tmp_path):
    import importlib

    from modeling.resnet import build_resnet_graph

    cm = importlib.import_module("ait.compiler.compile_model")  # the module, not the function

    monkeypatch.setenv("AIT_CACHE_DIR", str(tmp_path / "cache"))
    seen = []

    class Stop(Exception):
        pass

    def fake_compile_objects(target, sources, **kw):
        seen.extend(sources)
        raise Stop

    monkeypatch.setattr(cm.nvcc, "compile_objects", fake_compile_objects)
    _, y = build_resnet_graph("resnet18", batch_size=1, num_classes=10, image_size=64)
    with pytest.raises(Stop):
        cm.build_model(y, RENDER_ONLY, tmp_path / "wd", "m", profile=False, verbose=False)
    model = [s for s in seen if s.name == "m_model"]
    assert len(model) == 1 and not model[0].host_cold
    kernels = [s for s in seen if s.name.startswith(("conv2d_", "gemm_"))]
    assert kernels and all(s.host_cold for s in kernels)
    own = [s for s in seen if s not in model and s not in kernels]
    assert own and not any(s.host_cold for s in own)


needs_nvcc = pytest.mark.skipif(TARGET.nvcc is None, reason="nvcc not found")


@needs_nvcc
def test_the_cache_key_covers_the_host_flags(monkeypatch):
    text = '#include "ait_abi.h"\nint f() { return AIT_OK; }\n'
    hot, cold = nvcc.Source("k", text), nvcc.Source("k", text, host_cold=True)
    assert nvcc.object_key(TARGET, hot) != nvcc.object_key(TARGET, cold)
    before = nvcc.object_key(TARGET, cold)
    monkeypatch.setattr(nvcc, "COLD_HOST_FLAGS", ("-O2",))
    assert nvcc.object_key(TARGET, cold) != before
    assert nvcc.object_key(TARGET, hot) == nvcc.object_key(TARGET, nvcc.Source("k", text))


@pytest.mark.nvcc
@needs_nvcc
@pytest.mark.skipif(shutil.which("objcopy") is None, reason="objcopy not found")
def test_cold_flags_leave_the_device_code_byte_identical(tmp_path):
    """One 2.x conv kernel with the runtime and the cold flags: the embedded fatbinary (the
    cubin the GPU loads) is the same bytes; only the host code may differ."""
    conv = next(c for c in conv2d_candidates(TARGET, BIAS_RELU, 64, 64)
                if c.name.startswith("conv2d_2x_"))
    cu = tmp_path / "k.cu"
    cu.write_text(conv.render())
    fatbins = []
    for cold in (False, True):
        obj = tmp_path / f"k{int(cold)}.o"
        subprocess.run([TARGET.nvcc, *nvcc.compile_flags(TARGET, cold), "-c", str(cu), "-o",
                        str(obj)], check=True, capture_output=True)
        fb = tmp_path / f"k{int(cold)}.fatbin"
        subprocess.run(["objcopy", "-O", "binary", "--only-section=.nv_fatbin", str(obj),
                        str(fb)], check=True, capture_output=True)
        fatbins.append(fb.read_bytes())
    assert len(fatbins[0]) > 10_000 and fatbins[0] == fatbins[1]
