"""What op emitters see while the model source is generated: C++ expressions for tensor
pointers and dims, and the kernels the profiler chose for each op and batch bucket."""
from __future__ import annotations

from dataclasses import dataclass, field

from ait.ir import AitError, Graph, IntImm, IntVar, Op, Tensor, TensorKind
from ait.ir.shape import Dim


# Members of an args struct (ait_abi.h) that are launch options of the model, not part of the
# problem: the C expression each emitter assigns (from the runtime's Bindings `m`, set when the
# model is created). The profiler sets them itself.
LAUNCH_OPTIONS = {"prefetch": "m.prefetch"}


def launch_options() -> str:
    """The setup line that fills an args struct `a`'s launch options."""
    return " ".join(f"a.{k} = {v};" for k, v in LAUNCH_OPTIONS.items())


@dataclass
class KernelBuckets:
    """The kernel for each batch bucket of one op: run ``names[i]`` when n <= upper[i].
    ``waits[i]``: that kernel waits for the kernels before it (griddepcontrol.wait before any
    global memory access), so the runtime may launch it early (programmatic dependent launch)."""

    upper: list[int]
    names: list[str]
    waits: list[bool] | None = None  # None: none waits

    def __post_init__(self):
        if self.waits is None:
            self.waits = [False] * len(self.names)


@dataclass
class EmitContext:
    graph: Graph  # built (ait.passes.CompiledGraph): .plan places its intermediates
    kernels: dict[int, KernelBuckets] = field(default_factory=dict)  # op uid -> choice

    def __post_init__(self):
        g = self.graph
        self._inputs = {id(t): i for i, t in enumerate(g.inputs)}
        self._outputs = {id(t): i for i, t in enumerate(g.outputs)}
        self.constants = g.constants()
        self._constants = {id(t): i for i, t in enumerate(self.constants)}
        self.dims = g.dynamic_dims()
        self._dims = {id(d): i for i, d in enumerate(self.dims)}
        self._by_name = {t.name: t for t in g.tensors()}
        self.touches_io = False  # set by ptr(): the op being emitted reads an input or
        # writes an output, so the runtime records it per caller pointer set

    def begin_op(self) -> None:
        self.touches_io = False

    def ptr(self, t: Tensor) -> str:
        """A C++ expression for the tensor's device pointer (void* or const void*)."""
        if id(t) in self._outputs:
            self.touches_io = True
            return f"out[{self._outputs[id(t)]}]"
        if t.kind is TensorKind.INPUT:
            self.touches_io = True
            return f"const_cast<void*>(in[{self._inputs[id(t)]}])"
        if t.kind is TensorKind.CONSTANT:
            return f"m.constants[{self._constants[id(t)]}]"
        root = self.graph.plan.root(t.name)
        if root != t.name:
            return self.ptr(self._by_name[root])
        return f"static_cast<void*>(m.workspace + {self.graph.plan.offsets[t.name]}ull)"

    def dim(self, d: Dim) -> str:
        if isinstance(d, IntImm):
            return str(d.value)
        return f"dims[{self._dims[id(d)]}]"

    def numel(self, t: Tensor) -> str:
        return " * ".join(f"int64_t({self.dim(d)})" for d in t.shape()) or "1"

    def kernels_for(self, op: Op) -> KernelBuckets:
        if op._uid not in self.kernels:
            raise AitError(f"no kernel was selected for {op.kind} op {op.name}")
        return self.kernels[op._uid]


@dataclass
class OpCode:
    """C++ for one op. ``setup`` declares the arguments; ``run`` sets ``rc`` (an AitStatus)
    and, where only some of its kernels wait for their predecessors, ``pdl = true`` for those
    (see `dispatch`); ``waits``: every kernel it launches waits (our own kernels call
    ait_wait_prior_grids() first, ait_pdl.h); ``workspace`` (kernel-backed ops) sets ``bytes``
    to the kernel workspace it needs."""

    setup: str
    run: str
    workspace: str | None = None
    waits: bool = False


def dispatch(buckets: KernelBuckets, n_expr: str, call: str, result: str = "rc") -> str:
    """if/else over batch buckets setting ``result`` to ``call`` (a ``{k}`` placeholder for the
    kernel name). Neighbouring buckets that chose the same kernel share one branch. For a
    launch (``result`` "rc"), a branch whose kernel waits for its predecessors also sets
    ``pdl = true``; the workspace query (``result`` "bytes") sets nothing else."""
    merged_ub, merged_names, merged_waits = [], [], []
    for ub, name, waits in zip(buckets.upper, buckets.names, buckets.waits):
        if merged_names and merged_names[-1] == name:
            merged_ub[-1] = ub
        else:
            merged_ub.append(ub)
            merged_names.append(name)
            merged_waits.append(waits)

    def body(name: str, waits: bool) -> str:
        flag = " pdl = true;" if waits and result == "rc" else ""
        return f"{result} = {call.format(k=name)};{flag}"

    if len(merged_names) == 1:
        return body(merged_names[0], merged_waits[0])
    lines = []
    for i, (ub, name, waits) in enumerate(zip(merged_ub, merged_names, merged_waits)):
        last = i == len(merged_names) - 1
        head = "} else {" if last else (f"if ({n_expr} <= {ub}) {{" if i == 0 else
                                         f"}} else if ({n_expr} <= {ub}) {{")
        lines += [head, "  " + body(name, waits)]
    lines.append("}")
    return "\n".join(lines)


def batch_buckets(dim: Dim) -> list[int]:
    """Batch values the profiler tunes for: powers of two inside the range, plus its top.
    At run time a batch n uses the kernel tuned for the smallest bucket >= n."""
    if isinstance(dim, IntImm):
        return [dim.value]
    assert isinstance(dim, IntVar)
    lo, hi = dim.lower_bound, dim.upper_bound
    out = []
    b = 1
    while b < hi:
        if b >= lo:
            out.append(b)
        b *= 2
    return out + [hi]
