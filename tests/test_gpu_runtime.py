"""One compiled ResNet-50 shared by threads and streams: every output bitwise equal to the
same call made alone, in graph and eager mode, with sync=False, while constants change, and
with two models in one process."""
import os
import threading

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.gpu
torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

WORKDIR = os.environ.get("AIT_TEST_WORKDIR", str(ROOT / "tmp" / "tests"))
BATCHES = (1, 3, 8, 16, 32, 5, 2, 17)  # one per thread: mixed buckets and odd sizes
CALLS = 100


def _weights(seed):
    from modeling.resnet import create_resnet
    from weight_utils import timm_resnet, timm_to_ait

    return timm_to_ait(timm_resnet("resnet50", seed=seed), create_resnet("resnet50"))


@pytest.fixture(scope="module")
def lib_path():
    from modeling.build import compile_resnet

    model = compile_resnet("resnet50", (1, 256), WORKDIR)
    path = model.lib_path
    model.close()
    return path


@pytest.fixture(scope="module")
def weights():
    return _weights(0), _weights(1)


def _open(lib_path, params, num_runtimes):
    from ait import Model

    m = Model(lib_path, num_runtimes=num_runtimes)
    m.set_many_constants(params)
    m.fold_constants()
    return m


def _inputs(n, count, seed):
    g = torch.Generator(device="cuda").manual_seed(seed)
    return [torch.randn(n, 224, 224, 3, device="cuda", dtype=torch.float16, generator=g)
            for _ in range(count)]


def _serial(model, xs, graph_mode):
    outs = []
    for x in xs:
        y = torch.empty(x.shape[0], 1000, device="cuda", dtype=torch.float16)
        model.run_with_tensors([x], [y], graph_mode=graph_mode)
        outs.append(y.clone())
    return outs


def _hammer(model, jobs, graph_mode, calls=CALLS, before_each=None, until=None):
    """Each job (inputs) runs in its own thread on its own stream, `calls` calls, cycling
    through its inputs with a fresh output tensor each call; even threads use sync=False.
    With `until`, a thread goes on past `calls` (up to 20x) until until(its results) is true.
    Returns per thread the list of (input index, output, before_each's value)."""
    results = [[] for _ in jobs]
    errors = []
    gate = threading.Barrier(len(jobs))

    def body(t):
        try:
            stream = torch.cuda.Stream()
            xs = jobs[t]
            with torch.cuda.stream(stream):
                gate.wait()
                for i in range(20 * calls if until else calls):
                    if i >= calls and until(results[t]):
                        break
                    tag = before_each() if before_each else None
                    k = i % len(xs)
                    y = torch.empty(xs[k].shape[0], 1000, device="cuda", dtype=torch.float16)
                    model.run_with_tensors([xs[k]], [y], graph_mode=graph_mode,
                                           sync=t % 2 == 1)
                    results[t].append((k, y, tag))
                stream.synchronize()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
            gate.abort()

    threads = [threading.Thread(target=body, args=(t,)) for t in range(len(jobs))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    torch.cuda.synchronize()
    return results


def _mismatches(results, expected):
    bad = []
    for t, calls in enumerate(results):
        for i, (k, y, _) in enumerate(calls):
            if not torch.equal(y, expected[t][k]):
                bad.append((t, i))
    return bad


@pytest.mark.parametrize("num_runtimes", [1, 4, 8])
@pytest.mark.parametrize("graph_mode", [True, False], ids=["graph", "eager"])
def test_threads_match_serial_bitwise(lib_path, weights, graph_mode, num_runtimes):
    model = _open(lib_path, weights[0], num_runtimes)
    try:
        jobs = [_inputs(n, 3, seed=100 + t) for t, n in enumerate(BATCHES)]
        expected = [_serial(model, xs, graph_mode) for xs in jobs]
        calls = CALLS if num_runtimes != 4 else CALLS // 2
        results = _hammer(model, jobs, graph_mode, calls=calls)
        bad = _mismatches(results, expected)
        total = sum(len(r) for r in results)
        assert not bad, f"{len(bad)} of {total} outputs differ from the serial run: {bad[:10]}"
    finally:
        model.close()


def test_graph_and_eager_agree_across_threads(lib_path, weights):
    model = _open(lib_path, weights[0], 2)
    try:
        xs = _inputs(8, 2, seed=7)
        assert all(torch.equal(a, b) for a, b in
                   zip(_serial(model, xs, True), _serial(model, xs, False)))
    finally:
        model.close()


def test_set_constants_while_threads_run(lib_path, weights):
    """Every output is all-old or all-new weights; calls begun after the set see the new."""
    model = _open(lib_path, weights[0], 4)
    try:
        jobs = [_inputs(n, 2, seed=200 + t) for t, n in enumerate((1, 8, 3, 16))]
        old = [_serial(model, xs, True) for xs in jobs]
        other = _open(lib_path, weights[1], 1)
        new = [_serial(other, xs, True) for xs in jobs]
        other.close()
        done = threading.Event()
        started = threading.Event()
        count = [0]

        def before_each():
            count[0] += 1
            if count[0] == 40:
                started.set()
            return done.is_set()

        def writer():
            started.wait(60)
            model.set_many_constants(weights[1])
            done.set()

        w = threading.Thread(target=writer)
        w.start()
        # each thread goes on until three of its calls began after the set returned (on a fast
        # GPU all 60 can end before it does: the test then checked nothing after the set)
        results = _hammer(model, jobs, True, calls=60, before_each=before_each,
                          until=lambda r: sum(1 for *_, after in r if after) >= 3)
        w.join()
        assert done.is_set()
        mixed, stale = [], []
        for t, calls in enumerate(results):
            for i, (k, y, after) in enumerate(calls):
                is_old, is_new = torch.equal(y, old[t][k]), torch.equal(y, new[t][k])
                if not (is_old or is_new):
                    mixed.append((t, i))
                if after and not is_new:
                    stale.append((t, i))
        assert not mixed, f"outputs matching neither weight set: {mixed[:10]}"
        assert not stale, f"calls begun after set_many_constants returned saw old weights: " \
                          f"{stale[:10]}"
        assert any(after for calls in results for *_, after in calls)
    finally:
        model.close()


def test_two_models_in_one_process_from_threads(lib_path, weights):
    a = _open(lib_path, weights[0], 2)
    b = _open(lib_path, weights[1], 2)
    try:
        jobs = [_inputs(n, 2, seed=300 + t) for t, n in enumerate((4, 9, 1, 32))]
        exp_a = [_serial(a, xs, True) for xs in jobs]
        exp_b = [_serial(b, xs, True) for xs in jobs]
        assert not torch.equal(exp_a[0][0], exp_b[0][0])
        out = {}

        def run(name, model):
            out[name] = _hammer(model, jobs, True, calls=30)

        ta = threading.Thread(target=run, args=("a", a))
        tb = threading.Thread(target=run, args=("b", b))
        ta.start(), tb.start()
        ta.join(), tb.join()
        assert not _mismatches(out["a"], exp_a)
        assert not _mismatches(out["b"], exp_b)
    finally:
        a.close()
        b.close()


def test_rotating_buffers_in_graph_mode(lib_path, weights):
    """A new output tensor and one of several inputs each call: no re-capture, right answer."""
    model = _open(lib_path, weights[0], 1)
    try:
        xs = _inputs(4, 8, seed=400)
        expected = _serial(model, xs, False)
        for rounds in range(3):
            got = _serial(model, xs, True)
            assert all(torch.equal(g, e) for g, e in zip(got, expected))
    finally:
        model.close()


def test_close_waits_for_running_calls_then_refuses(lib_path, weights):
    from ait import AitError

    model = _open(lib_path, weights[0], 2)
    x = _inputs(32, 1, seed=500)[0]
    y = torch.empty(32, 1000, device="cuda", dtype=torch.float16)
    for _ in range(20):
        model.run_with_tensors([x], [y], graph_mode=True, sync=False)
    model.close()  # queued work finishes first; the memory is then freed
    with pytest.raises(AitError, match="closed"):
        model.run_with_tensors([x], [y], graph_mode=True)


def test_weight_prefetch_changes_no_bit(lib_path, weights, monkeypatch):
    """The kernels' L2 prefetch of their weights before their grid-dependency wait reads no
    value: every output, graph and eager, queued back to back, bitwise equal to the same model
    whose launches were recorded with AIT_WEIGHT_PREFETCH=0 (read when a batch size's launches
    are recorded, at its first call)."""
    sizes = (1, 3, 8, 17, 32, 255)
    monkeypatch.setenv("AIT_WEIGHT_PREFETCH", "0")
    off = _open(lib_path, weights[0], 1)
    expected = {n: _serial(off, _inputs(n, 3, seed=700 + n), False) for n in sizes}
    monkeypatch.delenv("AIT_WEIGHT_PREFETCH")
    on = _open(lib_path, weights[0], 1)
    try:
        for n in sizes:
            xs = _inputs(n, 3, seed=700 + n)
            for graph_mode in (False, True):
                outs = []
                for _ in range(20 if n <= 32 else 4):
                    for x in xs:
                        y = torch.empty(n, 1000, device="cuda", dtype=torch.float16)
                        on.run_with_tensors([x], [y], graph_mode=graph_mode, sync=False)
                        outs.append(y)
                torch.cuda.synchronize()
                bad = sum(not torch.equal(y, expected[n][i % len(xs)])
                          for i, y in enumerate(outs))
                assert bad == 0, f"batch {n} graph_mode={graph_mode}: {bad}/{len(outs)} differ"
    finally:
        on.close()
        off.close()


def test_programmatic_launch_changes_no_bit(lib_path, weights, monkeypatch):
    """Kernels launched early (PDL) wait for their predecessors: every output, graph and
    eager, bitwise equal to the same model with PDL off, also over many queued calls."""
    monkeypatch.setenv("AIT_PDL", "0")
    off = _open(lib_path, weights[0], 1)
    monkeypatch.delenv("AIT_PDL")
    on = _open(lib_path, weights[0], 1)
    try:
        assert on.pdl and not off.pdl  # sm_90: the runtime really launches early
        for n in (1, 3, 8, 17, 32, 256):
            xs = _inputs(n, 4, seed=600 + n)
            expected = _serial(off, xs, False)
            for graph_mode in (False, True):
                outs = []
                for _ in range(25 if n <= 32 else 5):  # queued back to back, no sync
                    for x in xs:
                        y = torch.empty(n, 1000, device="cuda", dtype=torch.float16)
                        on.run_with_tensors([x], [y], graph_mode=graph_mode, sync=False)
                        outs.append(y)
                torch.cuda.synchronize()
                bad = sum(not torch.equal(y, expected[i % len(xs)]) for i, y in enumerate(outs))
                assert bad == 0, f"batch {n} graph_mode={graph_mode}: {bad}/{len(outs)} differ"
    finally:
        on.close()
        off.close()
