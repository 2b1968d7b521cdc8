"""Memory planning: reuse happens, and no two tensors alive at once share bytes."""
import ait
from ait.passes.plan_memory import ALIGNMENT
from modeling.resnet import build_resnet_graph


def _check_plan(g):
    plan = g.plan
    names = list(plan.offsets)
    for i, a in enumerate(names):
        a0, a1 = plan.offsets[a], plan.offsets[a] + plan.sizes[a]
        assert a0 % ALIGNMENT == 0 and a1 <= plan.workspace_bytes
        for b in names[i + 1:]:
            (fa, la), (fb, lb) = plan.lifetimes[a], plan.lifetimes[b]
            if fa <= lb and fb <= la:  # alive together -> disjoint bytes
                b0, b1 = plan.offsets[b], plan.offsets[b] + plan.sizes[b]
                assert a1 <= b0 or b1 <= a0, f"{a} and {b} overlap while both alive"


def test_resnet50_plan_reuses_memory_without_overlap():
    _, y = build_resnet_graph("resnet50", batch_size=(1, 256))
    g = ait.build_graph(y)
    _check_plan(g)
    total = sum(g.plan.sizes.values())
    assert g.workspace_bytes < total / 4  # real reuse, not one buffer per tensor
    # at least two tensors with disjoint lifetimes share an offset
    by_offset = {}
    for n, o in g.plan.offsets.items():
        by_offset.setdefault(o, []).append(n)
    assert any(len(v) > 1 for v in by_offset.values())
    # the peak is at least the largest pair of live tensors: the stem output (N*112*112*64)
    # and its input
    assert g.workspace_bytes >= 256 * 112 * 112 * 64 * 2


def test_view_aliases_its_input():
    _, y = build_resnet_graph("resnet18", batch_size=4, image_size=64)
    g = ait.build_graph(y)
    reshape = next(op for op in g.ops if op.kind == "reshape")
    out = reshape.outputs[0].name
    assert g.plan.root(out) == reshape.inputs[0].name
    assert out not in g.plan.offsets
    # the pooled tensor stays alive until the gemm that reads its view
    gemm_index = next(i for i, op in enumerate(g.ops) if op.kind == "gemm_rcr")
    assert g.plan.lifetimes[reshape.inputs[0].name][1] == gemm_index
    _check_plan(g)
