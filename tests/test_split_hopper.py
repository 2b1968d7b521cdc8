"""The split build of the Hopper units (nvcc.Split, tune.build.split_hopper): the two passes
of each Hopper template, a real nvcc build of one small unit of each of the three classes
(cubin, host object, embed object, joined object), the cache, and AIT_SPLIT_HOPPER=0."""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ait.backend import nvcc
from ait.backend.target import Target
from ait.ir.epilogue import BIAS_ADD_RELU, BIAS_RELU
from ait.ops.conv2d.cutlass3x import (
    PERSISTENT_TILES,
    TILES,
    Conv2dCutlass3x,
    Conv2dCutlass3xPersistent,
)
from ait.ops.conv2d.gemm3x import STRIDED_TILES
from ait.ops.conv2d.gemm3x import TILES as GEMM_TILES
from ait.ops.conv2d.gemm3x import Conv2dGemm3x
from ait.tune import build as build_mod

TARGET = Target.for_arch(90)
CONV = Conv2dCutlass3x(TILES[3], BIAS_RELU, "f32")                     # 64x64x64
PERSISTENT = Conv2dCutlass3xPersistent(PERSISTENT_TILES[0], BIAS_ADD_RELU, "f32")
GEMM = Conv2dGemm3x(GEMM_TILES[2], BIAS_RELU, "f32")                     # 128x128 pingpong
STRIDED = Conv2dGemm3x(STRIDED_TILES[0], BIAS_RELU, "f32", strided=True)
KERNELS = (CONV, PERSISTENT, GEMM, STRIDED)
_PASS_MACROS = ("AIT_DEVICE_PASS", "AIT_HOST_PASS", "AIT_SPLIT_LAUNCH_HPP", "AIT_UNIT_CUBIN")
_DEFINED = re.compile(r"!?\s*defined\((\w+)\)")


def preprocess(text: str, defined: set[str]) -> str:
    """`text` with the conditionals on the pass macros resolved (`defined(X)`, `!`, `&&`,
    #ifndef / #define of the include guard); every other directive is kept as it is."""
    defined = set(defined)
    out, stack = [], []  # stack: (this branch taken, some branch taken, evaluated by us)

    def ours(cond: str) -> bool:
        return any(m in cond for m in _PASS_MACROS)

    def value(cond: str) -> bool:
        parts = [p.strip() for p in cond.split("&&")]
        return all((m.group(1) in defined) != p.startswith("!")
                   for p in parts for m in [_DEFINED.fullmatch(p)] if m) and \
            all(_DEFINED.fullmatch(p) for p in parts)

    def active() -> bool:
        return all(taken for taken, _, _ in stack)

    for line in text.splitlines():
        d = line.strip()
        if d.startswith(("#if ", "#ifndef ", "#ifdef ")):
            cond = (f"!defined({d.split()[1]})" if d.startswith("#ifndef") else
                    f"defined({d.split()[1]})" if d.startswith("#ifdef") else d[4:])
            if ours(cond):
                v = value(cond)
                stack.append((v, v, True))
                continue
            stack.append((True, True, False))
        elif d.startswith("#elif") and stack and stack[-1][2]:
            _, any_taken, _ = stack.pop()
            v = not any_taken and value(d[6:])
            stack.append((v, any_taken or v, True))
            continue
        elif d.startswith("#else") and stack and stack[-1][2]:
            _, any_taken, _ = stack.pop()
            stack.append((not any_taken, True, True))
            continue
        elif d.startswith("#endif"):
            if stack.pop()[2]:
                continue
        elif d.startswith("#define ") and active() and d.split()[1] in _PASS_MACROS:
            defined.add(d.split()[1])
            continue
        if active():
            out.append(line)
    assert not stack, "unbalanced conditionals"
    return "\n".join(out) + "\n"


def code_lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("//")]


def entries(c) -> list[str]:
    """The prefixes of the mangled names of the kernel's entries (ait_split_launch.hpp)."""
    ns = f"_ZN{len(c.name) + 5}{c.name}_impl"
    names = [f"{ns}5entryE"]
    if getattr(c, "strided", False):
        names += [f"{ns}6gatherIiEE", f"{ns}6gatherIxEE"]
    return names


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda c: c.name)
def test_split_passes_render(kernel):
    plain, split = kernel.render(), kernel.render(split=True)
    assert "AIT_DEVICE_PASS" not in plain and "AIT_HOST_PASS" not in plain
    # neither macro: today's source, but for the comment lines of the split
    assert code_lines(preprocess(split, set())) == code_lines(preprocess(plain, set()))
    device = "\n".join(code_lines(preprocess(split, {"AIT_DEVICE_PASS"})))
    # the entries keep C++ linkage in the kernel's namespace (extern "C" changes the SASS)
    assert re.search(r"^__global__ void __launch_bounds__\([^)]*\)\s*entry\(", device, re.M)
    if getattr(kernel, "strided", False):
        assert "template __global__ void gather<int>(GatherParams);" in device
        assert "template __global__ void gather<long long>(GatherParams);" in device
    assert 'extern "C" __global__' not in device
    for host_only in ("cudaLaunchKernel", "<<<", f'extern "C" int {kernel.name}(',
                      "_workspace_bytes", "cudaFuncSetAttribute", "cudaLibrary",
                      "Conv op;", "device_info"):
        assert host_only not in device, host_only
    host = "\n".join(code_lines(preprocess(split, {"AIT_HOST_PASS", "AIT_UNIT_CUBIN"})))
    assert "__global__" not in host and "<<<" not in host
    assert "cudaFuncSetAttribute(" not in host and "op.run(" not in host
    for needed in ("cudaLibraryLoadData(", "cudaLibraryGetKernel(", "cudaLaunchKernelExC(",
                   "cudaKernelSetAttributeForDevice(", 'extern "C" const unsigned char',
                   f'extern "C" int {kernel.name}(', f"{kernel.name}_workspace_bytes"):
        assert needed in host, needed
    for prefix in entries(kernel):
        assert f'"{prefix}"' in host
    assert split.count("#ifndef AIT_SPLIT_LAUNCH_HPP") == 1  # the helper, once


def test_render_split_only_for_splittable():
    from ait.ops.conv2d.candidates import conv2d_candidates
    light = next(c for c in conv2d_candidates(TARGET, BIAS_RELU, 64, 64)
                 if not getattr(c, "splittable", False))
    with pytest.raises(ValueError, match="no split passes"):
        light.render(split=True)


def test_split_switch(monkeypatch):
    monkeypatch.delenv("AIT_SPLIT_HOPPER", raising=False)
    units = build_mod.translation_units([CONV, GEMM, STRIDED])
    assert all(u.source.split for u in units)
    assert all(build_mod.single_source(c).text == c.render(split=True) for c in KERNELS)
    monkeypatch.setenv("AIT_SPLIT_HOPPER", "0")
    off = build_mod.translation_units([CONV, GEMM, STRIDED])
    assert not any(u.source.split for u in off)
    # today's sources, hence today's object keys and names (no marker in the key)
    for c in KERNELS:
        src = build_mod.single_source(c)
        assert src == nvcc.Source(c.name, c.render(), c.compile_cost, host_cold=True)


def test_split_object_keys_differ_per_pass(tmp_path):
    if TARGET.nvcc is None:
        pytest.skip("nvcc not found")
    src = nvcc.Source(CONV.name, CONV.render(split=True), CONV.compile_cost, True, split=True)
    files = nvcc.split_files(TARGET, src, tmp_path)
    (_, _, obj), = nvcc._plan(TARGET, [src], tmp_path)
    keys = {p.name.split("-")[-1].split(".")[0] for p in (files.cubin, files.host, obj)}
    assert len(keys) == 3 and files.symbol.endswith(files.cubin.name.split("-")[-1][:-6])
    assert files.embed.name.startswith(files.cubin.name[:-6])
    plain = nvcc.Source(CONV.name, CONV.render(split=True), CONV.compile_cost, True)
    assert nvcc._plan(TARGET, [plain], tmp_path)[0][2] != obj


def _triton_cuobjdump() -> str | None:
    """The cuobjdump that the triton wheel (a torch dependency) carries, where no CUDA
    toolkit's is on PATH."""
    spec = importlib.util.find_spec("triton")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "backends/nvidia/bin/cuobjdump"
    return str(path) if path.is_file() else None


CUOBJDUMP = shutil.which("cuobjdump") or _triton_cuobjdump()


def _nm(*args: str) -> str:
    return subprocess.run(["nm", *args], capture_output=True, text=True, check=True).stdout


def _find_functions(files: nvcc.Split, prefixes: list[str], exe: Path) -> list[str]:
    """ait_split::find_function on the embedded cubin, for each prefix (a host program linked
    with the embed object; no GPU)."""
    cu = exe.with_suffix(".cu")
    cu.write_text(f"#define AIT_UNIT_CUBIN {files.symbol}\n" + """
#include <cstdio>
#include "ait_split_launch.hpp"
int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* name = ait_split::find_function(AIT_UNIT_CUBIN, argv[i]);
    std::printf("%s\\n", name ? name : "-");
  }
  return 0;
}
""")
    include = Path(nvcc.__file__).parent.parent / "ops" / "conv2d" / "include"
    subprocess.run([TARGET.require_nvcc(), "-std=c++17", f"-I{include}", str(cu),
                    str(files.embed), "-o", str(exe)], check=True, capture_output=True)
    out = subprocess.run([str(exe), *prefixes], capture_output=True, text=True, check=True)
    names = out.stdout.split()
    assert len(names) == len(prefixes) and "-" not in names, out.stdout
    return names


def _sass(path: Path) -> list[str]:
    """The instructions of each function (the names left out), in order."""
    out = subprocess.run([CUOBJDUMP, "-sass", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return [re.sub(r"/\* 0x[0-9a-f]+ \*/|\s+", " ", ln).strip() for ln in out.splitlines()
            if re.match(r"\s+/\*[0-9a-f]{4}\*/", ln)]


@pytest.mark.nvcc
@pytest.mark.skipif(TARGET.nvcc is None, reason="nvcc not found (CUDA_HOME, PATH, wheel)")
def test_split_build(tmp_path, monkeypatch):
    """One unit of each class: cubin + host object + embed object, joined; linked into a
    shared library with nothing of ours undefined; cached (a second build compiles nothing)."""
    monkeypatch.setenv("AIT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("AIT_SPLIT_HOPPER", raising=False)
    units = build_mod.translation_units([CONV, PERSISTENT, STRIDED], per_tu=1)
    assert len(units) == 3 and all(u.source.split for u in units)
    sources = [u.source for u in units]
    start = len(nvcc.compile_times)
    objs = nvcc.compile_objects(TARGET, sources, jobs=2)
    passes = sorted(t.name for t in nvcc.compile_times[start:])
    assert passes == sorted(f"{s.name} [{p}]" for s in sources for p in ("device", "host"))
    for src, obj, unit in zip(sources, objs, units):
        files = nvcc.split_files(TARGET, src, tmp_path)
        for f in (files.cubin, files.host, files.embed, obj):
            assert f.is_file() and nvcc.fs.elf_problem(f) is None, f
        assert re.search(rf"^[0-9a-f]+ R {files.symbol}$", _nm(str(files.embed)), re.M)
        assert files.embed.stat().st_size > files.cubin.stat().st_size
        assert f"U {files.symbol}" in _nm("-u", str(files.host))
        (kernel,) = [c for c in (CONV, PERSISTENT, STRIDED) if c.name in unit.members]
        # the host pass finds each entry by its prefix in the embedded cubin: run that lookup
        found = _find_functions(files, entries(kernel), tmp_path / f"{src.name}.find")
        assert all(name.startswith(prefix) for name, prefix in zip(found, entries(kernel)))
        if CUOBJDUMP:
            syms = subprocess.run([CUOBJDUMP, "-symbols", str(files.cubin)], capture_output=True,
                                  text=True, check=True).stdout
            funcs = re.findall(r"STT_FUNC\s+STB_GLOBAL\s+STO_ENTRY\s+(\w+)", syms)
            assert sorted(funcs) == sorted(found)
        # the host object holds no kernel of its own (nothing of the cubin's is compiled twice)
        if CUOBJDUMP:
            host_syms = subprocess.run([CUOBJDUMP, "-symbols", str(files.host)],
                                       capture_output=True, text=True).stdout
            assert "STO_ENTRY" not in host_syms
        lib = nvcc.link_shared(TARGET, [files.host, files.embed], tmp_path / f"{src.name}.so")
        undefined = _nm("-u", str(lib))
        assert "ait_" not in undefined and kernel.name not in undefined
        assert kernel.name in _nm("-D", "--defined-only", str(lib))
        joined = nvcc.link_shared(TARGET, [obj], tmp_path / f"{src.name}.joined.so")
        assert "ait_" not in _nm("-u", str(joined))
        # the library, the entries and their per-device state stay in their .so (as
        # test_codegen_build checks for a model): no process-wide unique symbol of ours
        exported = _nm("-D", "--defined-only", str(joined)).splitlines()
        assert not [ln for ln in exported if ln.split()[1:2] == ["u"]
                    and not ln.split()[2].startswith("_ZN4cuda3std")]
        assert files.symbol not in "\n".join(exported)  # hidden: each .so its own cubin
    if CUOBJDUMP:  # the entry is CUTLASS's device_kernel<Kernel> (the 3.x conv unit's, as the
        # unsplit object has it) plus only the weight prefetch: without its code, the same SASS
        plain = nvcc.Source(CONV.name, CONV.render(), CONV.compile_cost, host_cold=True)
        bare = nvcc.Source(f"{sources[0].name}_nopf",
                           "#define AIT_NO_PREFETCH_CODE\n" + sources[0].text,
                           sources[0].cost, host_cold=True, split=True)
        single, _ = nvcc.compile_objects(TARGET, [plain, bare], jobs=2)
        cubin = nvcc.split_files(TARGET, bare, tmp_path).cubin
        assert _sass(single) == _sass(cubin) and len(_sass(cubin)) > 500
        with_pf = _sass(nvcc.split_files(TARGET, sources[0], tmp_path).cubin)
        assert any("UBLKPF" in ln for ln in with_pf)  # the bulk L2 prefetch
        assert not any("UBLKPF" in ln for ln in _sass(cubin))
    stamps = [o.stat().st_mtime_ns for o in objs]
    again = len(nvcc.compile_times)
    assert nvcc.compile_objects(TARGET, sources, jobs=2) == objs
    assert len(nvcc.compile_times) == again and [o.stat().st_mtime_ns for o in objs] == stamps
    # the profilers and the model link the same joined objects: no compile but the main's
    spec = build_mod.ProfilerSpec(CONV.family, CONV.epilogue, (CONV,))
    prof = build_mod.build_profilers(TARGET, [spec], jobs=2)[spec]
    assert prof.failed == () and len(nvcc.compile_times) == again + 1
    out = subprocess.run([str(prof.path), "--list"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and CONV.name in out.stdout
    assert build_mod.kernel_objects(TARGET, [CONV]) == objs[:1]
    again = len(nvcc.compile_times)
    # the joined object lost: rejoined from the cached cubin, host and embed objects
    objs[0].unlink()
    assert nvcc.compile_objects(TARGET, sources[:1], jobs=2) == objs[:1]
    assert len(nvcc.compile_times) == again and objs[0].is_file()


@pytest.mark.nvcc
@pytest.mark.skipif(TARGET.nvcc is None, reason="nvcc not found (CUDA_HOME, PATH, wheel)")
def test_model_links_a_split_unit(tmp_path, monkeypatch):
    """A model whose conv takes a 3.x Hopper kernel: its .so links the joined unit object,
    exports the kernel and leaves nothing of ours undefined (no GPU: creating it fails)."""
    import ait
    from ait import IntVar, Tensor, nn
    from tests.gpu_util import conv_candidates_first

    monkeypatch.setenv("AIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("AIT_SPLIT_HOPPER", raising=False)
    conv_candidates_first(monkeypatch, lambda c: c == CONV, "the 3.x conv 64x64x64 is offered",
                          limit=1)
    m = nn.Conv2dBiasRelu(64, 64, 3, 1, 1)
    m.name_parameter_tensor()
    y = m(Tensor([IntVar([1, 4], "batch"), 8, 8, 64], name="x", is_input=True))
    try:
        ait.compile_model(y, TARGET, tmp_path / "work", "one", profile=False)
    except ait.AitError as e:
        assert "creating the model failed" in str(e)
    so = tmp_path / "work" / "one" / "one.so"
    assert CONV.name in _nm("-D", "--defined-only", str(so))
    assert "ait_" not in _nm("-u", str(so))
    objects = tmp_path / "cache" / "objects"
    assert [p.name.split("-")[0] for p in objects.glob("*/*.cubin")] == [CONV.name]
    assert len(list(objects.glob("*/*.host.o"))) == len(list(objects.glob("*/*.embed.o"))) == 1
