"""Building leaves the frontend graph as it was (issue 9, item 4): build_graph copies the graph
the outputs depend on and runs the passes on the copy. Without a GPU."""
from types import SimpleNamespace

import numpy as np
import pytest

import ait
from ait import IntVar, Tensor
from ait.backend.codegen import generate_model_source
from ait.backend.emit import KernelBuckets
from ait.backend.target import Target
from ait.compiler.compile_model import kernel_requests
from ait.ir import AitError, IntImm, Op
from ait.ops.conv2d import conv2d
from ait.ops.elementwise import add, relu
from ait.passes import fuse_epilogues, sort_graph
from ait.tune.candidates import candidates_for
from modeling.resnet import build_resnet_graph


def _value(v):
    """An attribute's value with graph objects as their identity (and their own attributes
    snapshotted separately), so that a relinked edge or a renamed node shows."""
    if isinstance(v, (Tensor, Op, IntVar, IntImm)):
        return (type(v).__name__, id(v))
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, [_value(x) for x in v])
    if isinstance(v, dict):
        return ("dict", {k: _value(x) for k, x in v.items()})
    return v


def _snapshot(outputs):
    """Every attribute of every tensor, op and dim reachable from the outputs, through
    producers and consumers alike (consumers no output needs included)."""
    seen, stack, snap = set(), list(outputs), {}
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        attrs = dict(vars(obj))
        snap[(type(obj).__name__, id(obj))] = {k: _value(v) for k, v in attrs.items()}
        if isinstance(obj, Tensor):
            stack += obj.shape() + obj.dst_ops + ([obj.src_op] if obj.src_op else [])
        elif isinstance(obj, Op):
            stack += obj.inputs + obj.outputs
            stack += [d for v in attrs.values() if isinstance(v, list) for d in v
                      if isinstance(d, (IntVar, IntImm))]
    return snap


def _small():
    """Conv, bias, residual and ReLU (fused into one conv), a branch no output needs, and a
    second conv whose output is unnamed."""
    x = Tensor([IntVar([1, 4], "n"), 6, 6, 8], name="x", is_input=True)
    w1, b1 = Tensor([8, 3, 3, 8], name="w1"), Tensor([8], name="b1")
    w2 = Tensor([8, 1, 1, 8], name="w2")
    c = conv2d(x, w1, pad=1)
    y = relu(add(add(c, b1), x))
    relu(y)  # read by nothing the output needs
    return SimpleNamespace(x=x, c=c, y=y, w1=w1, w2=w2, out=conv2d(y, w2))


def _resnet18():
    return build_resnet_graph("resnet18", (1, 256))


@pytest.mark.parametrize("make", [lambda: _small().out, lambda: _resnet18()[1]],
                         ids=["small", "resnet18"])
def test_build_leaves_the_frontend_graph_unchanged(make):
    y = make()
    before = _snapshot([y])
    g = ait.build_graph(y)
    assert _snapshot([y]) == before
    built = {id(t) for t in g.tensors()} | {id(op) for op in g.ops}
    assert not built & {key[1] for key in before}  # no frontend object in the built graph
    assert g.tensor_for(y) is g.outputs[0] and g.outputs[0].is_output
    assert g.outputs[0].shape() == y.shape()  # the same dim objects
    assert all(a is b for a, b in zip(g.outputs[0].shape(), y.shape()))
    ait.build_graph(y, fuse=False)
    assert _snapshot([y]) == before


def test_snapshot_sees_what_building_in_place_did():
    """The check above can fail: the passes run on the frontend graph itself (what build_graph
    did before it copied) change it, and the snapshot shows it."""
    y = _small().out
    before = _snapshot([y])
    fuse_epilogues(sort_graph([y]))
    assert _snapshot([y]) != before


def test_tensor_for():
    s = _small()
    g = ait.build_graph(s.out)
    out = g.tensor_for(s.out)
    assert s.out.name is None and not s.out.is_output and s.out.src_op.name is None
    assert [op.kind for op in g.ops] == ["conv2d", "conv2d"]
    assert out.src_op.name == "conv2d_1" and out.name == "conv2d_1_out"
    assert all(op.name for op in g.ops)
    assert g.tensor_for(s.x) is g.inputs[0] and g.inputs[0] is not s.x
    assert g.tensor_for(s.w1).name == "w1" and g.tensor_for(s.y).src_op is g.ops[0]
    with pytest.raises(AitError, match="fused it away"):  # the conv's own output
        g.tensor_for(s.c)
    with pytest.raises(AitError, match="not part of the graph"):
        g.tensor_for(Tensor([1], name="other"))
    unfused = ait.build_graph(s.out, fuse=False)
    assert unfused.tensor_for(s.c).src_op.kind == "conv2d"
    assert [op.kind for op in unfused.ops] == ["conv2d", "add", "add", "relu", "conv2d"]


def _model_source(g):
    target = Target.for_arch(90)
    reqs = kernel_requests(g)
    first = {r: candidates_for(target, r)[0] for rs in reqs.values() for _, r in rs}
    kernels = {uid: KernelBuckets([b for b, _ in rs], [first[r].name for _, r in rs],
                                  [first[r].waits_for_prior_grids for _, r in rs])
               for uid, rs in reqs.items()}
    return generate_model_source(g, "model", kernels)[0]


def test_building_twice_gives_the_same_names_and_source():
    _, y = _resnet18()
    a, b = ait.build_graph(y), ait.build_graph(y)
    assert [op.name for op in a.ops] == [op.name for op in b.ops]
    assert [t.name for t in a.tensors()] == [t.name for t in b.tensors()]
    assert _model_source(a) == _model_source(b)
    # and the same as a build of the model made again
    _, y2 = _resnet18()
    c = ait.build_graph(y2)
    assert [op.name for op in c.ops] == [op.name for op in a.ops]
    assert _model_source(c) == _model_source(a)


def test_reference_of_outputs_leaves_them_alone():
    s = _small()
    y = s.out
    before = _snapshot([y])
    rng = np.random.default_rng(0)
    params = {t.name: rng.standard_normal([d.value for d in t.shape()]).astype(np.float32)
              for t in (s.w1, s.w2)} | {"b1": rng.standard_normal(8).astype(np.float32)}
    x = rng.standard_normal((2, 6, 6, 8)).astype(np.float32)
    out = ait.run_reference(y, {"x": x}, params)
    assert list(out) == [ait.build_graph(y).tensor_for(y).name]
    assert _snapshot([y]) == before
