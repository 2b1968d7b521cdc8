"""CPU-only: the copies of one tuned problem agree, checked against one list of fields.

A conv (gemm) problem is written down in several places that must agree: its problem record
(`Conv2dProblem`, ait/ops/conv2d/request.py), the profiler argv made from it, the profiler
main's argv parser (ops/<family>/templates/profiler_*.cu.j2), the C args struct
(backend/include/ait_abi.h) and the family's emitter that fills it for model.cu. The problem's
dataclass fields are the list: each (unless `dim(argv=False)`) is a profiler flag the profiler
parses and fills struct members with (`dim(abi=...)`, default its own name), and the struct
holds exactly the batch member, those members, the problem's `derived_abi` and pointers; the
emitter assigns every member, with the problem's values. A field, flag or member added to one
place and not the others fails here.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from ait.backend.emit import LAUNCH_OPTIONS, EmitContext, KernelBuckets
from ait.backend.family import family_of, tuned_families
from ait.backend.target import Target
from ait.compiler import build_graph
from ait.compiler.compile_model import kernel_requests
from ait.tune.build import ProfilerSpec
from ait.tune.candidates import candidates_for
from modeling.resnet import STEMS, build_resnet_graph

ROOT = Path(__file__).resolve().parent.parent
ABI = ROOT / "ait" / "backend" / "include" / "ait_abi.h"
COMMON = ROOT / "ait" / "tune" / "templates" / "profiler_common.cu.j2"
TARGET = Target.for_arch(90)
FAMILIES = {f.name: f for f in tuned_families()}
ASSIGN = re.compile(r"\ba\.(\w+)\s*=\s*([^;]+);")


def struct_members(name: str) -> dict[str, bool]:
    """Member -> is a pointer, of `typedef struct NAME {...} NAME;` in ait_abi.h."""
    text = re.sub(r"//[^\n]*", "", ABI.read_text())
    m = re.search(rf"typedef struct {name} \{{(.*?)\}} {name};", text, re.S)
    assert m, f"{name} not in {ABI}"
    out: dict[str, bool] = {}
    for decl in m.group(1).split(";"):
        decl = decl.strip()
        if not decl:
            continue
        head, *rest = [d.strip() for d in decl.split(",")]
        mm = re.fullmatch(r"(.*?)(\**)\s*(\w+)", head)
        assert mm, decl
        for member in [mm.group(3), *rest]:
            assert member not in out, f"{name}.{member} declared twice"
            out[member] = "*" in mm.group(1) + mm.group(2)
    return out


def parsed_flags(main: str) -> tuple[set[str], set[str], dict[str, set[int]]]:
    """(every --flag main() reads, those it requires, flag -> the value indices it reads)."""
    body = main[main.index("int main("):]
    flags, indices = set(), {}
    for key, index in re.findall(r'o\.get\("(\w+)",\s*(\d+),', body):
        indices.setdefault(key, set()).add(int(index))
    flags |= set(re.findall(r'o\.get\("(\w+)"', body))
    flags |= set(re.findall(r'prof::batches\(o,\s*"(\w+)"\)', body))
    required = set()
    for group in re.findall(r"prof::require\(o,\s*\{([^}]*)\}\)", body):
        required |= set(re.findall(r'"(\w+)"', group))
    return flags, required, indices


def option_flags(main: str) -> set[str]:
    """The options every profiler has, no problem's (--cand, --warmup, ..., --tol, --list):
    read in profiler_common, or only tested for (o.has) in main()."""
    text = COMMON.read_text()
    return (set(re.findall(r'o\.(?:get|has)\("(\w+)"', text))
            | set(re.findall(r'key == "(\w+)"', text))
            | set(re.findall(r'o\.has\("(\w+)"', main)))


def sample_ops():
    """(family name, op, its requests) for every tuned op of ResNet-18 (both stems), batch 3."""
    out = []
    for stem in STEMS:
        _, y = build_resnet_graph("resnet18", batch_size=3, stem=stem)
        g = build_graph(y)
        reqs = kernel_requests(g)
        ops = {op._uid: op for op in g.ops}
        out += [(g, family_of(ops[uid]).name, ops[uid], rs) for uid, rs in reqs.items()]
    return out


SAMPLES = sample_ops()


def test_every_tuned_family_is_sampled():
    assert {name for _, name, _, _ in SAMPLES} == set(FAMILIES) and FAMILIES


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_struct_holds_exactly_the_problem_fields(name):
    tuning = FAMILIES[name].tuning
    problem = tuning.request_type.problem_type
    members = struct_members(tuning.args_struct)
    abi = problem.abi_members()
    filled = [problem.batch_flag, *(m for ms in abi.values() for m in ms), *problem.derived_abi]
    assert len(filled) == len(set(filled)), f"a member filled twice: {filled}"
    assert set(LAUNCH_OPTIONS) <= set(members), f"{tuning.args_struct} lacks a launch option"
    ints = {m for m, is_ptr in members.items() if not is_ptr} - set(LAUNCH_OPTIONS)
    assert ints == set(filled), (
        f"{tuning.args_struct}: members {sorted(ints - set(filled))} are no field of "
        f"{problem.__name__}; fields fill {sorted(set(filled) - ints)} that it lacks")
    # a field out of the argv is named explicitly; it fills no member unless told
    for f in problem.shape_fields():
        if f.name not in problem.argv_flags():
            assert not abi[f.name], f"{f.name} fills {abi[f.name]} but the profiler has no flag"


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_profiler_parses_every_flag_of_the_argv(name):
    tuning = FAMILIES[name].tuning
    problem = tuning.request_type.problem_type
    _, _, _, requests = next(s for s in SAMPLES if s[1] == name)
    request = requests[0][1]
    spec = ProfilerSpec(request.family, request.epilogue,
                        tuple(candidates_for(TARGET, request)))
    main = spec.main_source(TARGET).text
    flags, required, indices = parsed_flags(main)
    expected = {problem.batch_flag, *problem.argv_flags()}
    assert flags == expected, (f"{tuning.profiler_template} parses {sorted(flags - expected)} "
                               f"that the argv lacks, not {sorted(expected - flags)}")
    assert required <= flags
    options = option_flags(main)
    assert not flags & options, "a problem flag clashes with a profiler option"
    # the argv made from the problem: each flag once, with as many values as main() reads
    argv = request.profiler_argv()
    keys = [a[2:] for a in argv if a.startswith("--")]
    assert keys == [problem.batch_flag, *problem.argv_flags()]
    for f in problem.shape_fields():
        value = getattr(request.problem, f.name)
        if isinstance(value, tuple) and f.name in flags:
            assert indices.get(f.name) == set(range(len(value))), (f.name, indices)
    # the profiler fills every member of the struct
    assigned = {m for m, _ in ASSIGN.findall(main[main.index("int main("):])}
    missing = set(struct_members(tuning.args_struct)) - assigned
    assert not missing, f"{tuning.profiler_template} leaves {sorted(missing)} unset"
    # its usage line names the same flags
    usage_flags = set(re.findall(r"--(\w+)", main.split("#include")[0])) - options
    assert usage_flags == expected, f"usage comment: {sorted(usage_flags ^ expected)}"


@pytest.mark.parametrize("index", range(len(SAMPLES)))
def test_emitter_fills_every_member_with_the_problem(index):
    graph, name, op, requests = SAMPLES[index]
    tuning = FAMILIES[name].tuning
    kernels = {op._uid: KernelBuckets([b for b, _ in requests],
                                      [f"k{i}" for i in range(len(requests))])}
    setup = FAMILIES[name].emit(op, EmitContext(graph, kernels)).setup
    assert setup.startswith(f"{tuning.args_struct} a{{}};"), setup
    assigned: dict[str, str] = {}
    for member, value in ASSIGN.findall(setup):
        assert member not in assigned, f"{member} assigned twice"
        assigned[member] = value.strip()
    members = struct_members(tuning.args_struct)
    assert set(assigned) == set(members), (
        f"{name} emitter: unset {sorted(set(members) - set(assigned))}, "
        f"unknown {sorted(set(assigned) - set(members))}")
    for member, value in LAUNCH_OPTIONS.items():  # from the runtime's bindings, not a constant
        assert assigned[member] == value, f"{name} emitter sets {member} = {assigned[member]}"
    problem = requests[0][1].problem
    assert all(r.problem == problem for _, r in requests)  # one problem for every bucket
    abi = type(problem).abi_members()
    for f in problem.shape_fields():
        value = getattr(problem, f.name)
        values = value if isinstance(value, tuple) else (value,)
        for member, v in zip(abi[f.name], values if abi[f.name] else (), strict=True):
            assert assigned.get(member) == str(v), (
                f"{name} emitter sets {member} = {assigned.get(member)}, {f.name} is {value}")
    assert assigned[problem.batch_flag] in ("3", "int(3)")  # the batch: static here


def test_requests_of_an_op_share_one_problem_and_keep_their_key():
    _, _, op, requests = next(s for s in SAMPLES if s[1] == "conv2d")
    request = requests[0][1]
    assert request.dims()[0] == (request.batch_flag, request.batch)
    assert request.dims()[1:] == request.problem.dims()
    assert request.shape_argv() == request.problem.argv()
    assert request.profiler_argv()[2:] == request.problem.argv()
    # the repr spells the dims out, as before the problem record (render_hashes keys by it)
    assert repr(request).startswith(f"{type(request).__name__}(epilogue=Epilogue(")
    assert f", {request.batch_flag}={request.batch}, " in repr(request)
