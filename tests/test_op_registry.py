"""The op-family registry (ait.backend.family): every folder of ait/ops registers one family,
every op class of ait.ops belongs to exactly one and has an emitter, and importing any part of
ait fills the registry. CPU only."""
from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import ait.ops  # noqa: F401  (registers every family)
from ait.backend.family import OpFamily, families, family_of, register, tuned_families, tuning
from ait.backend.kernel import Family
from ait.backend.templates import AIT_ROOT
from ait.ir import AitError, Op

ROOT = Path(__file__).resolve().parent.parent
OPS = ROOT / "ait" / "ops"


def _all_op_classes() -> set[type]:
    out, todo = set(), [Op]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("ait.ops.") and not inspect.isabstract(sub):
                out.add(sub)
    return out


def test_every_family_folder_is_registered():
    folders = {p.name for p in OPS.iterdir() if (p / "__init__.py").is_file()}
    assert folders == {f.name for f in families()}
    for fam in families():
        assert isinstance(fam, OpFamily) and fam.ops, fam.name
        assert all(c.__module__.startswith(f"ait.ops.{fam.name}.") for c in fam.ops), fam.name


def test_every_op_class_has_one_family_and_an_emitter():
    classes = _all_op_classes()
    assert len(classes) >= 9
    owners = {c: [f.name for f in families() if c in f.ops] for c in classes}
    assert {c.__name__: o for c, o in owners.items() if len(o) != 1} == {}
    for c in classes:
        fam = family_of(c.__new__(c))
        assert callable(fam.emit), (c.__name__, fam.name)
        assert list(inspect.signature(fam.emit).parameters) == ["op", "ctx"], fam.name


def test_own_sources_and_their_prototypes():
    for fam in families():
        assert bool(fam.sources) == bool(fam.prototypes), fam.name
        text = "".join(p.read_text() for p in fam.sources)
        for proto in fam.prototypes:
            name = proto.split("(")[0].split()[-1]
            assert f"{name}(" in text, (fam.name, name)
    # the model's own sources, in the order a model links them (unchanged by the registry)
    from ait.backend.codegen import own_sources
    assert [p.name for p in own_sources()] == ["pool2d.cu", "pad_channels.cu", "elementwise.cu",
                                               "space_to_depth.cu", "stem.cu",
                                               "stem_rows.cu"]


def test_tuned_families():
    assert {f.tuning.kernel_family for f in tuned_families()} == set(Family)
    for kf in Family:
        t = tuning(kf)
        assert (AIT_ROOT / t.profiler_template).is_file(), t.profiler_template
        assert t.request_type.family is kf and t.prune_rules
        assert {r.name for r in t.prune_rules} and all(r.arch in (80, 90) for r in t.prune_rules)


def test_an_unregistered_op_has_no_kernel():
    class Unknown(Op):
        kind = "unknown"

    op = Unknown.__new__(Unknown)
    op.name = "u0"
    with pytest.raises(AitError, match="no kernel for op unknown"):
        family_of(op)


def test_an_op_class_belongs_to_one_family():
    conv = next(f for f in families() if f.name == "conv2d")
    with pytest.raises(AitError, match="already belong to conv2d"):
        register(OpFamily("not_conv2d", conv.ops, conv.emit))
    assert "not_conv2d" not in {f.name for f in families()}


def test_importing_the_backend_fills_the_registry():
    # a fresh interpreter that imports only the registry: ait/__init__ imports ait.ops
    code = ("from ait.backend.family import families; "
            "print(' '.join(sorted(f.name for f in families())))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == sorted(p.name for p in OPS.iterdir() if (p / "__init__.py").is_file())


def _front_end(tmp_path: Path, name: str, sources, prototypes) -> subprocess.CompletedProcess:
    """nvcc's front end (no code generation) over `sources` followed by `prototypes`."""
    from ait.backend.target import _find_nvcc_or_none
    from ait.backend.templates import ABI_INCLUDE_DIR

    nvcc = _find_nvcc_or_none()
    if nvcc is None:
        pytest.skip("no nvcc found")
    cu = tmp_path / f"{name}_prototypes.cu"
    cu.write_text("".join(f'#include "{p}"\n' for p in sources)
                  + 'extern "C" {\n' + "".join(f"{p};\n" for p in prototypes) + "}\n")
    return subprocess.run([nvcc, f"-I{ABI_INCLUDE_DIR}", "-std=c++17", "-arch=sm_90", "-cuda",
                           str(cu), "-o", str(tmp_path / f"{name}.ii")],
                          capture_output=True, text=True)


@pytest.mark.parametrize("fam", [f for f in families() if f.sources], ids=lambda f: f.name)
def test_own_prototypes_match_their_definitions(fam, tmp_path):
    """model.cu declares own kernels' entry points from the family's prototypes; being
    extern "C" a wrong parameter list would still link (and pass garbage). Declared after the
    definitions in one translation unit, a mismatch is a compile error."""
    proc = _front_end(tmp_path, fam.name, fam.sources, fam.prototypes)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_mismatched_prototype_is_caught(tmp_path):
    fam = next(f for f in families() if f.name == "pad")
    wrong = [p.replace("int, int, cudaStream_t", "int, cudaStream_t") for p in fam.prototypes]
    assert wrong != list(fam.prototypes)
    proc = _front_end(tmp_path, "wrong", fam.sources, wrong)
    assert proc.returncode != 0 and "C\" linkage" in proc.stderr


def _one_of_each_kernel_class():
    """A candidate of every kernel template of the tuned families (sm_90 lists)."""
    from ait.backend.target import Target
    from ait.ir.epilogue import BIAS, BIAS_ADD_RELU
    from ait.ops.conv2d import ConvRequest
    from ait.ops.gemm import GemmRequest
    from ait.tune.candidates import all_candidates_for

    target = Target.for_arch(90)
    requests = [ConvRequest.of(BIAS_ADD_RELU, 1, 14, 14, 256, 256, 3, 3, (1, 1), (1, 1)),
                ConvRequest.of(BIAS_ADD_RELU, 8, 56, 56, 64, 256, 1, 1, (0, 0), (1, 1)),
                ConvRequest.of(BIAS, 8, 56, 56, 256, 512, 1, 1, (0, 0), (2, 2)),
                GemmRequest.of(BIAS, 1, 1000, 2048), GemmRequest.of(BIAS, 64, 1000, 2048)]
    seen = {}
    for r in requests:
        for c in all_candidates_for(target, r):
            seen.setdefault(c.TEMPLATE, (r, c))  # one per template: it fixes the signature
    return target, list(seen.values())


def test_kernel_prototypes_match_every_kernel_template(tmp_path):
    """model.cu declares each chosen CUTLASS kernel from its family's Tuning.kernel_prototype;
    one rendered kernel of every template, with those declarations after it, must compile (the
    front end only: a different extern "C" signature is an error there)."""
    from ait.backend.family import tuning
    from ait.backend.target import _find_nvcc_or_none
    from ait.backend.templates import ABI_INCLUDE_DIR

    nvcc = _find_nvcc_or_none()
    if nvcc is None:
        pytest.skip("no nvcc found")
    target, picks = _one_of_each_kernel_class()
    assert len(picks) >= 6, [c.TEMPLATE for _, c in picks]  # 2.x, 3.x, GEMM, split-K, gemv...
    for request, cand in picks:
        cu = tmp_path / f"{cand.name}.cu"
        proto = tuning(request.family).kernel_prototype(cand.name)
        cu.write_text(cand.render() + '\nextern "C" {\n' + proto + "\n}\n")
        includes = [f"-I{d}" for d in (ABI_INCLUDE_DIR, *target.include_dirs)]
        proc = subprocess.run([nvcc, *includes, "-std=c++17", "--expt-relaxed-constexpr",
                               "-DNDEBUG", "-arch=sm_90a", "-cuda", str(cu), "-o",
                               str(tmp_path / f"{cand.name}.ii")], capture_output=True, text=True)
        assert proc.returncode == 0, (cand.name, proc.stderr[-2000:])
