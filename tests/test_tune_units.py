"""Kernels grouped into translation units (tune.build): which kernels share one, that a unit's
text is its members' own sources, and that the model build finds the unit a kernel was
compiled in for the profilers (no nvcc: units are recorded by hand here)."""
from __future__ import annotations

import pytest

from ait.backend.target import Target
from ait.ir.epilogue import BIAS, BIAS_ADD_RELU, BIAS_RELU
from ait.ops.conv2d import ConvRequest
from ait.ops.conv2d.cutlass3x import Conv2dCutlass3x, Conv2dCutlass3xPersistent
from ait.ops.gemm import GemmRequest
from ait.ops.conv2d.prune import TRADES
from ait.tune import kernel_sources
from ait.tune.candidates import all_candidates_for
from ait.tune.prune import dropped_by
from ait.tune import build as build_mod
from ait.tune.build import group_key, record_unit, translation_units

H100 = Target.for_arch(90)
EPILOGUES = (BIAS, BIAS_RELU, BIAS_ADD_RELU)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("AIT_CACHE_DIR", str(tmp_path))
    monkeypatch.delenv("AIT_KERNELS_PER_TU", raising=False)
    monkeypatch.delenv("AIT_HOPPER_UNITS", raising=False)


def candidates_for(target, r):
    """The pruned list but for the compile-time trades: these tests need lists with several
    Hopper tiles of a class, as the lists had before the trades."""
    full = all_candidates_for(target, r)
    drop = dropped_by(target, r, full)
    return [c for c in full if drop.get(c.name) in (None, *TRADES)]


def texts(sources):
    return [(s.name, s.text) for s in sources]


def pointwise(ep, c=64, k=256):
    return candidates_for(H100, ConvRequest.of(ep, 8, 56, 56, c, k, 1, 1))


def test_a_unit_holds_the_epilogues_of_one_kernel():
    cands = [c for ep in EPILOGUES for c in pointwise(ep)]
    units = translation_units(cands)
    members = [m for u in units for m in u.members]
    assert sorted(members) == sorted({c.name for c in cands})  # each kernel once
    by_name = {c.name: c for c in cands}
    for u in units:
        assert len({group_key(by_name[m]) for m in u.members}) == 1
        assert len(u.members) <= build_mod.KERNELS_PER_TU
        assert list(u.members) == sorted(u.members)
        # a Hopper kernel's text has the split passes (AIT_SPLIT_HOPPER, on by default)
        split = build_mod.split_hopper() and getattr(by_name[u.members[0]], "splittable", False)
        assert u.source.split == split
        texts = [by_name[m].render(split=split) for m in u.members]
        assert u.source.text == "".join(texts)
        assert [s.text for s in u.singles] == texts
    # one unit per tile: every tile comes with the three epilogues here
    assert len(units) == len(pointwise(BIAS)) and all(len(u.members) == 3 for u in units)
    # a unit's text depends on its set of kernels only, not on the order they came in
    assert {u.source for u in translation_units(cands[::-1])} == {u.source for u in units}


def test_the_cap_splits_groups_evenly(monkeypatch):
    cands = [c for ep in EPILOGUES for c in pointwise(ep)]
    units = translation_units(cands, per_tu=2)
    by_name = {c.name: c for c in cands}
    light = [u for u in units if u.source.cost < build_mod.HEAVY_COST]
    n_light = len([c for c in pointwise(BIAS) if c.compile_cost < build_mod.HEAVY_COST])
    assert sorted(len(u.members) for u in light) == sorted([1, 2] * n_light)
    # each Hopper tile: two epilogues in one unit, the third alone; those singles are paired
    # within their class (a class with an odd number keeps one single)
    heavy = [u for u in units if u.source.cost >= build_mod.HEAVY_COST]
    assert all(len(u.members) == 2 for u in heavy if len({group_key(by_name[m])
                                                          for m in u.members}) == 1)
    classes = {type(by_name[m]) for u in heavy for m in u.members}
    assert len([u for u in heavy if len(u.members) == 1]) <= len(classes)
    assert sorted(m for u in units for m in u.members) == sorted(by_name)
    monkeypatch.setenv("AIT_KERNELS_PER_TU", "1")
    singles = translation_units(cands)
    assert all(len(u.members) == 1 and u.source.text == u.singles[0].text for u in singles)
    assert [u.source.name for u in singles] == list(dict.fromkeys(c.name for c in cands))


def test_kernel_sources_are_single_kernels_until_a_unit_is_recorded():
    chosen = [pointwise(BIAS)[0], pointwise(BIAS_RELU)[0]]
    assert [s.text for s in kernel_sources(chosen)] == [c.render() for c in chosen]
    (unit,) = [u for u in translation_units([c for ep in EPILOGUES for c in pointwise(ep)])
               if chosen[0].name in u.members]
    record_unit(unit)
    assert texts(kernel_sources(chosen)) == texts([unit.source])  # both in it: linked once
    assert texts(kernel_sources(chosen[1:])) == texts([unit.source])


def test_overlapping_units_are_never_both_linked():
    a, b, c = (pointwise(ep)[0] for ep in EPILOGUES)
    first = translation_units([a, b])[0]
    second = translation_units([b, c])[0]
    record_unit(first)
    record_unit(second)  # b is now recorded in `second`, a in `first`, c in `second`
    sources = kernel_sources([a, b, c])
    assert texts(sources) == texts([first.source, build_mod.single_source(c)])  # not `second`:
    # it would define b a second time
    assert sum(s.text.count(f'extern "C" int {b.name}(') for s in sources) == 1


def test_a_stale_record_is_ignored(tmp_path):
    a, b = pointwise(BIAS)[0], pointwise(BIAS_RELU)[0]
    unit = translation_units([a, b])[0]
    record_unit(unit)
    (tmp_path / "units" / f"{unit.source.name}.cu").write_text("// something else\n")
    assert [s.text for s in kernel_sources([a])] == [a.render()]


def test_build_queues_hopper_units_first_then_each_spec_s_light_units_and_main(
        monkeypatch, tmp_path):
    """Every Hopper unit first (they bound the build), costliest first; then, spec by spec,
    the light units it still needs and its main: no main holds up a long compile."""
    from concurrent.futures import Future

    from ait.backend.kernel import Family
    from ait.tune.build import ProfilerSpec, build_profilers

    queued = []

    def fake_submit(pool, target, sources, **kw):
        queued.extend(s.name for s in sources)
        futures = []
        for s in sources:
            f = Future()
            f.set_result(tmp_path / f"{s.name}.o")
            futures.append(f)
        return futures

    monkeypatch.setattr(build_mod.nvcc, "submit_objects", fake_submit)
    monkeypatch.setattr(build_mod.nvcc, "link_executable", lambda target, objs, exe: exe)
    relu, plain = pointwise(BIAS_RELU), pointwise(BIAS)
    gemm = candidates_for(H100, GemmRequest.of(BIAS, 1024, 1000, 2048))
    narrow = candidates_for(H100, ConvRequest.of(BIAS_RELU, 8, 56, 56, 64, 64, 3, 3, (1, 1)))
    specs = [ProfilerSpec(Family.CONV2D, BIAS_RELU, tuple(relu)),
             ProfilerSpec(Family.CONV2D, BIAS, tuple(plain)),
             ProfilerSpec(Family.GEMM, BIAS, tuple(gemm)),
             ProfilerSpec(Family.CONV2D, BIAS_RELU, tuple(narrow))]
    build_profilers(H100, specs, jobs=16)  # enough cores: no tiles merged
    units = {u.source.name: u for u in translation_units(relu + plain + gemm + narrow)}
    heavy = [n for n in queued if n in units and units[n].source.cost >= build_mod.HEAVY_COST]
    mains = [i for i, name in enumerate(queued) if name.startswith("profiler_")]
    assert len(mains) == 4 and mains[-1] == len(queued) - 1
    assert queued[:len(heavy)] == heavy  # all of them first, the last spec's one too
    narrow_heavy = [c for c in narrow if c.compile_cost >= build_mod.HEAVY_COST][-1]
    assert any(narrow_heavy.name in units[n].members for n in heavy)  # a 3.x tile, K = 64
    costs = [units[n].source.cost for n in heavy]
    first_spec = [n for n in heavy if set(units[n].members) & {c.name for c in relu}]
    assert [units[n].source.cost for n in first_spec] == sorted(
        (units[n].source.cost for n in first_spec), reverse=True) and len(costs) > 8
    light = queued[len(heavy):]
    # spec 1: its 2.x units (shared with spec 2), main; spec 2: main; spec 3: GEMM units, main
    n_relu_light = len([c for c in relu if c.compile_cost < build_mod.HEAVY_COST])
    assert mains[0] == len(heavy) + n_relu_light and mains[1] == mains[0] + 1
    assert len(light[mains[1] + 1 - len(heavy):mains[2] - len(heavy)]) == len(gemm)


def test_too_few_cores_merge_hopper_units_of_one_class():
    cands = [c for ep in EPILOGUES for c in pointwise(ep)]
    by_name = {c.name: c for c in cands}
    plenty = translation_units(cands, workers=64)
    assert plenty == translation_units(cands)
    heavy = [u for u in plenty if u.source.cost >= build_mod.HEAVY_COST]
    assert len(heavy) > 2
    two = translation_units(cands, workers=2)
    merged = [u for u in two if u.source.cost >= build_mod.HEAVY_COST]
    assert len(merged) == 2  # the 3.x convs in one, the 3.x GEMMs in the other
    assert all(len({type(by_name[m]) for m in u.members}) == 1 for u in merged)
    assert sorted(m for u in two for m in u.members) == sorted(by_name)
    # the light (2.x) units are left as they were
    assert [u for u in two if u.source.cost < build_mod.HEAVY_COST] == \
        [u for u in plenty if u.source.cost < build_mod.HEAVY_COST]


def test_single_kernel_hopper_units_are_paired_within_their_class(monkeypatch):
    """The 3x3 bias_relu conv's few-stage and 128x64 3.x tiles have one epilogue each: their
    one-kernel units are merged two by two (by name), never across kernel classes, never
    with AIT_KERNELS_PER_TU=1; the unit set does not depend on the input order."""
    narrow = candidates_for(H100, ConvRequest.of(BIAS_RELU, 8, 56, 56, 64, 64, 3, 3, (1, 1)))
    heavy = sorted((c for c in narrow if c.compile_cost >= build_mod.HEAVY_COST
                    and type(c) is Conv2dCutlass3x), key=lambda c: c.name)
    assert len(heavy) == 4
    units = [u for u in translation_units(narrow) if u.source.cost >= build_mod.HEAVY_COST
             and set(u.members) <= {c.name for c in heavy}]
    assert sorted(u.members for u in units) == [(heavy[0].name, heavy[1].name),
                                                (heavy[2].name, heavy[3].name)]
    persistent = [c for c in narrow if type(c) is Conv2dCutlass3xPersistent]
    assert len(persistent) == 2  # its own class: paired with each other, not with the 3.x
    assert (tuple(sorted(c.name for c in persistent)),) == tuple(
        u.members for u in translation_units(narrow) if set(u.members) & {persistent[0].name})
    assert {u.source for u in translation_units(narrow[::-1])} == \
        {u.source for u in translation_units(narrow)}
    gemm = candidates_for(H100, GemmRequest.of(BIAS, 1024, 1000, 2048))
    mixed = [u for u in translation_units([heavy[0], *gemm])]
    assert (heavy[0].name,) in [u.members for u in mixed]  # no other 3.x single to pair with
    monkeypatch.setenv("AIT_KERNELS_PER_TU", "1")
    assert all(len(u.members) == 1 for u in translation_units(narrow))


def test_hopper_units_env(monkeypatch):
    assert build_mod.hopper_units(15) == 15
    monkeypatch.setenv("AIT_HOPPER_UNITS", "4")
    assert build_mod.hopper_units(15) == 4


def test_a_spec_is_linked_as_soon_as_its_objects_are_done(monkeypatch, tmp_path):
    """A spec whose units are compiled is linked and handed to on_ready before an earlier
    spec that still waits for a unit: the gemm3x units hold up no 3x3 conv profiler."""
    import threading
    from concurrent.futures import Future

    from ait.backend.kernel import Family
    from ait.tune.build import ProfilerSpec, build_profilers

    pointwise_relu = pointwise(BIAS_RELU)
    slow = {u.source.name for u in translation_units(pointwise_relu)
            if any("gemm3x" in m for m in u.members)}
    assert slow
    held: list[Future] = []
    ready: list[str] = []
    released = threading.Event()

    def fake_submit(pool, target, sources, **kw):
        futures = []
        for s in sources:
            f = Future()
            if s.name in slow:
                held.append(f)
            else:
                f.set_result(tmp_path / f"{s.name}.o")
            futures.append(f)
        return futures

    def release():
        if not released.is_set():
            released.set()
            for f in held:
                f.set_result(tmp_path / "slow.o")

    def on_ready(spec, prof):
        ready.append(spec.epilogue.tag if spec.family is Family.CONV2D else "gemm")
        if ready == ["gemm"]:  # the second spec first: now let the first one's units finish
            release()

    timer = threading.Timer(5.0, release)  # a build that waits in spec order ends too
    timer.start()

    monkeypatch.setattr(build_mod.nvcc, "submit_objects", fake_submit)
    monkeypatch.setattr(build_mod.nvcc, "link_executable", lambda target, objs, exe: exe)
    gemm = candidates_for(H100, GemmRequest.of(BIAS, 1024, 1000, 2048))
    specs = [ProfilerSpec(Family.CONV2D, BIAS_RELU, tuple(pointwise_relu)),
             ProfilerSpec(Family.GEMM, BIAS, tuple(gemm))]
    try:
        out = build_profilers(H100, specs, on_ready=on_ready, jobs=16)
    finally:
        timer.cancel()
    assert ready == ["gemm", "bias_relu"]
    assert set(out) == set(specs) and all(p.names for p in out.values())
