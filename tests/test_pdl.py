"""CPU-only: programmatic dependent launch (PDL) is offered only for kernels that wait for the
kernels before them. A kernel launched early that touched memory before its wait would read
its input before the producer finished: a silent wrong answer, so these rules are tested."""
import re
from pathlib import Path

import pytest

from ait.backend import codegen
from ait.backend.emit import KernelBuckets, dispatch
from ait.backend.nvcc import BASE_FLAGS
from ait.ir.epilogue import Activation, Epilogue
from ait.ops.conv2d import cutlass2x, cutlass3x, gemm3x
from ait.ops.gemm import cutlass2x as gemm2x
from ait.ops.gemm import gemv

ROOT = Path(__file__).resolve().parent.parent
EPI = Epilogue(Activation.RELU, False)


def test_dispatch_sets_the_flag_only_in_branches_whose_kernel_waits():
    b = KernelBuckets([1, 8, 256], ["k_a", "k_b", "k_b"], [True, False, False])
    code = dispatch(b, "a.n", "{k}(&a)")
    branches = code.split("} else")
    assert "k_a(&a); pdl = true;" in branches[0]
    assert "k_b(&a);" in branches[1] and "pdl" not in branches[1]
    assert len(branches) == 2  # the two k_b buckets share a branch
    # the workspace query sets its result and nothing else (no pdl variable there)
    ws = dispatch(b, "a.n", "{k}_workspace_bytes(&a)", result="bytes")
    assert "pdl" not in ws and "bytes = k_a_workspace_bytes(&a);" in ws


def test_buckets_without_flags_never_wait():
    assert KernelBuckets([1], ["k"]).waits == [False]
    assert "pdl" not in dispatch(KernelBuckets([1], ["k"]), "a.n", "{k}(&a)")


def test_which_kernel_classes_wait():
    # CUTLASS 3.x kernels wait (built with CUTLASS_ENABLE_GDC_FOR_SM90); 2.x kernels do not
    assert "-DCUTLASS_ENABLE_GDC_FOR_SM90" in BASE_FLAGS
    assert cutlass3x.Conv2dCutlass3x.waits_for_prior_grids
    assert cutlass3x.Conv2dCutlass3xPersistent.waits_for_prior_grids  # every warp waits first
    assert gemm3x.Conv2dGemm3x.waits_for_prior_grids
    assert gemv.GemmRcrGemv.waits_for_prior_grids
    assert not cutlass2x.Conv2dCutlass2x.waits_for_prior_grids
    assert not gemm2x.GemmRcrCutlass2x.waits_for_prior_grids


def _global_bodies(text: str):
    """(name, body) of every __global__ function in CUDA source `text` (not in // comments)."""
    text = re.sub(r"//[^\n]*", "", text)
    for m in re.finditer(r"__global__", text):
        brace = text.index("{", m.end())
        if ";" in text[m.end():brace]:  # a declaration or explicit instantiation: no body
            continue
        head = re.sub(r"__launch_bounds__\([^)]*\)", "", text[m.end():brace])
        name = re.search(r"(\w+)\s*\(", head).group(1)
        yield name, text[brace + 1:]


# the kernels a model links; not the profiler mains (ops/<family>/templates/profiler_*.cu.j2),
# whose reference kernels run in the profiler only, never launched early
OWN_KERNEL_FILES = sorted(p for p in {*(ROOT / "ait" / "ops").rglob("*.cu"),
                                      *(ROOT / "ait" / "ops").rglob("*.cu.j2")}
                          if not p.name.startswith("profiler_"))


@pytest.mark.parametrize("path", OWN_KERNEL_FILES, ids=lambda p: p.name)
def test_every_own_kernel_waits_first(path):
    """Every __global__ of ours begins with ait_wait_prior_grids(): the emitters mark these
    ops as waiting, so the runtime launches them early. Only an L2 prefetch of the constants,
    which reads no value, may come before it (ait_prefetch.h)."""
    text = path.read_text()
    kernels = list(_global_bodies(text))
    for name, body in kernels:
        statements = [s.strip() for s in body.split(";")]
        if statements[0].startswith("ait_prefetch_l2_share("):
            statements = statements[1:]
            assert '#include "ait_prefetch.h"' in text
        first = statements[0]
        if "Kernel op;" in ";".join(statements).split("}")[0]:  # a CUTLASS 3.x kernel's entry:
            continue                                             # it waits itself
        assert first.startswith("ait_wait_prior_grids()"), (
            f"{path.name}: kernel {name} must call ait_wait_prior_grids() first, got {first!r}")
        assert '#include "ait_pdl.h"' in text


def test_model_source_flags_exactly_the_waiting_ops():
    """In the generated run_op, own-kernel ops and the buckets of waiting kernels set the flag;
    buckets of 2.x kernels and views do not."""
    from ait import IntVar, Tensor, nn
    from ait.compiler.compile_model import kernel_requests
    from ait.compiler.build_graph import build_graph
    from ait.ops.elementwise import relu

    x = Tensor([IntVar([1, 4], "batch"), 8, 8, 8], name="x", is_input=True)
    conv = nn.Conv2d(8, 8, 3, 1, 1)
    conv.name_parameter_tensor()
    y = nn.MaxPool2d(3, 2, 1)(relu(conv(x)))
    y.name = "y"
    g = build_graph(y)
    reqs = kernel_requests(g)
    kernels = {uid: KernelBuckets([b for b, _ in r], ["k3x" if b == 1 else "k2x" for b, _ in r],
                                  [b == 1 for b, _ in r]) for uid, r in reqs.items()}
    source, _ = codegen.generate_model_source(g, "m", kernels)
    run_op = source[source.rindex("static int run_op("):source.rindex("static size_t op_workspace")]
    cases = re.split(r"\n    case \d+: \{  // ", run_op)[1:]
    by_kind = {c.split()[0]: c[:c.index("break;")] for c in cases}
    assert set(by_kind) >= {"conv2d", "pool2d"}, by_kind.keys()
    assert "k3x(&a, kws, kws_bytes, stream); pdl = true;" in by_kind["conv2d"]
    assert re.search(r"k2x\(&a, kws, kws_bytes, stream\);\n", by_kind["conv2d"])
    assert by_kind["pool2d"].rstrip().endswith("pdl = true;")
    for kind in ("relu", "add"):
        if kind in by_kind:
            assert "pdl = true;" in by_kind[kind]
    ws = source[source.rindex("static size_t op_workspace"):]
    assert "pdl" not in ws.split("return bytes;")[0]
