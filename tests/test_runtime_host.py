"""CPU-only: the host side of Model (argument checks, the per-signature fast path, its
per-thread arrays) against a stand-in for the compiled library's C ABI."""
import ctypes
import json
import threading

import numpy as np
import pytest

import ait.runtime.model as model_mod
from ait import AitError
from ait.runtime.model import AITData, Model

META = {
    "name": "fake",
    "inputs": [{"name": "x", "shape": [{"dim": "batch", "lower": 1, "upper": 8}, 4],
                "dtype": "float16"}],
    "outputs": [{"name": "y", "shape": [{"dim": "batch", "lower": 1, "upper": 8}, 2],
                 "dtype": "float16"}],
    "dims": [{"name": "batch", "lower": 1, "upper": 8}],
    "constants": [{"name": "w", "shape": [2, 4], "dtype": "float16"}],
    "ops": [],
}


class _Fn:
    def __init__(self, impl):
        self.impl, self.argtypes, self.restype = impl, None, None

    def __call__(self, *args):
        return self.impl(*args)


class FakeLib:
    """Records what the Model passes across the C ABI; returns AIT_OK."""

    def __init__(self):
        self.runs, self.constants, self.created = [], {}, []
        self.ait_last_error = _Fn(lambda: b"fake error")
        self.ait_model_metadata = _Fn(lambda: json.dumps(META).encode())
        self.ait_model_create = _Fn(self._create)
        self.ait_model_close = _Fn(lambda h: 0)
        self.ait_model_destroy = _Fn(lambda h: 0)
        self.ait_model_device = _Fn(lambda h: 0)
        self.ait_model_pdl = _Fn(lambda h: 1)
        self.ait_model_weight_prefetch = _Fn(lambda h: 1)
        self.ait_model_set_constant = _Fn(lambda *a: 0)
        self.ait_model_set_constants = _Fn(self._set_constants)
        self.ait_model_fold_constants = _Fn(lambda h: 0)
        self.ait_model_run = _Fn(self._run)
        for name in ("ait_model_benchmark", "ait_model_profile_ops", "ait_device_malloc",
                     "ait_device_free", "ait_memcpy", "ait_device_synchronize"):
            setattr(self, name, _Fn(lambda *a: 0))

    def _create(self, handle_ref, num_runtimes):
        handle_ref._obj.value = 0x1000
        self.created.append(num_runtimes)
        return 0

    def _set_constants(self, handle, n, names, ptrs, sizes, from_host):
        for i in range(n):
            self.constants[names[i].decode()] = (sizes[i], from_host)
        return 0

    def _run(self, handle, ins, outs, dims, graph_mode, stream, sync):
        self.runs.append((ins[0], outs[0], dims[0], graph_mode, stream, sync,
                          ctypes.addressof(ins)))
        return 0


@pytest.fixture
def fake(monkeypatch, tmp_path):
    lib = FakeLib()
    monkeypatch.setattr(model_mod.ctypes, "CDLL", lambda path: lib)
    so = tmp_path / "fake.so"
    so.write_bytes(b"")
    return lib, so


def _ready(so, **kw):
    m = Model(so, **kw)
    m.set_many_constants({"w": np.random.default_rng(0).standard_normal((2, 4))})
    return m


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_num_runtimes_must_be_a_positive_integer(fake, bad):
    _, so = fake
    with pytest.raises(AitError, match="num_runtimes must be a positive integer"):
        Model(so, num_runtimes=bad)


def test_num_runtimes_reaches_the_library(fake):
    lib, so = fake
    m = Model(so, num_runtimes=3)
    assert lib.created == [3] and m.num_runtimes == 3


def test_constants_are_written_in_one_call(fake):
    lib, so = fake
    m = _ready(so)
    assert lib.constants == {"w": (2 * 4 * 2, 1)}
    with pytest.raises(AitError, match="constant 'w' has shape"):
        m.set_many_constants({"w": np.ones((4, 2))})


def test_fast_path_refills_pointers_and_keeps_checks(fake):
    lib, so = fake
    m = _ready(so)
    for ptr in (0x100, 0x200, 0x300):
        m.run([AITData(ptr, (3, 4))], [AITData(ptr + 8, (3, 2))], graph_mode=True, sync=False)
    assert [(r[0], r[1], r[2], r[3], r[5]) for r in lib.runs] == [
        (0x100, 0x108, 3, 1, 0), (0x200, 0x208, 3, 1, 0), (0x300, 0x308, 3, 1, 0)]
    # a cached signature never hides an error of a later call
    with pytest.raises(AitError, match="'x' has dtype float32, expected float16"):
        m.run([AITData(0x100, (3, 4), "float32")], [AITData(0x108, (3, 2))])
    with pytest.raises(AitError, match="'x' has a null data pointer"):
        m.run([AITData(0, (3, 4))], [AITData(0x108, (3, 2))])
    with pytest.raises(AitError, match="outside the compiled range 1..8"):
        m.run([AITData(0x100, (9, 4))], [AITData(0x108, (9, 2))])
    with pytest.raises(AitError, match="output 'y' buffer has shape"):
        m.run([AITData(0x100, (3, 4))], [AITData(0x108, (4, 2))])
    with pytest.raises(AitError, match="the model takes 1 input"):
        m.run([AITData(0x100, (3, 4)), AITData(0x100, (3, 4))], [AITData(0x108, (3, 2))])
    with pytest.raises(AitError, match="expected AITData, got ndarray"):
        m.run([np.zeros((3, 4))], [AITData(0x108, (3, 2))])
    m.run({"x": AITData(0x400, (5, 4))}, {"y": AITData(0x408, (5, 2))})
    assert lib.runs[-1][:3] == (0x400, 0x408, 5)


def test_calls_before_constants_are_refused_even_with_a_seen_signature(fake):
    _, so = fake
    m = Model(so)
    with pytest.raises(AitError, match="never set"):
        m.run([AITData(0x100, (3, 4))], [AITData(0x108, (3, 2))])


def test_each_thread_fills_its_own_arrays(fake):
    lib, so = fake
    m = _ready(so)
    m.run([AITData(0x100, (2, 4))], [AITData(0x108, (2, 2))])
    main_array = lib.runs[-1][6]
    seen = []

    def other():
        m.run([AITData(0x900, (2, 4))], [AITData(0x908, (2, 2))])
        seen.append(lib.runs[-1])

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen[0][0] == 0x900 and seen[0][6] != main_array
    m.run([AITData(0x100, (2, 4))], [AITData(0x108, (2, 2))])
    assert lib.runs[-1][6] == main_array  # the same thread reuses its arrays


def test_closed_model_refuses_calls(fake):
    _, so = fake
    m = _ready(so)
    m.close()
    with pytest.raises(AitError, match="the model is closed"):
        m.run([AITData(0x100, (2, 4))], [AITData(0x108, (2, 2))])


@pytest.mark.parametrize("var", ["AIT_PDL", "AIT_WEIGHT_PREFETCH"])
@pytest.mark.parametrize("value", ["2", "disable", " 0", ""])
def test_an_unknown_switch_value_is_an_error_not_ignored(fake, monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(AitError, match=f"{var} must be 0 or 1"):
        Model(fake[1])


@pytest.mark.parametrize("var", ["AIT_PDL", "AIT_WEIGHT_PREFETCH"])
@pytest.mark.parametrize("value", ["0", "1", "OFF", "true", "No", "on"])
def test_known_switch_values_load(fake, monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    Model(fake[1]).close()


def test_a_model_of_another_ait_version_is_named_not_an_attribute_error(fake):
    """A .so built by an older ait lacks newer entry points (here the PDL query)."""
    lib, so = fake
    del lib.ait_model_pdl
    with pytest.raises(AitError, match=r"not a model of this version of ait .*ait_model_pdl.*rebuild"):
        Model(so)


def test_the_runtime_turns_pdl_off_for_exactly_the_python_off_values():
    """model.py accepts SWITCH_VALUES and model_runtime.h reads the off ones itself: one list."""
    import re
    from pathlib import Path

    from ait.backend.nvcc import ABI_INCLUDE_DIR

    header = (Path(model_mod.__file__).parent / "csrc" / "model_runtime.h").read_text()
    body = header[header.index("inline bool pdl_from_env"):].split("}")[0]
    assert 'ait_switch_on("AIT_PDL")' in body
    switch = (ABI_INCLUDE_DIR / "ait_switch.h").read_text()
    offs = re.search(r"for \(const char\* off : \{([^}]*)\}\)", switch).group(1)
    assert tuple(re.findall(r'"([^"]*)"', offs)) == model_mod.SWITCH_OFF
    assert set(model_mod.SWITCH_OFF) < set(model_mod.SWITCH_VALUES)


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_a_model_path_that_is_not_a_file_says_what_it_is(tmp_path, kind):
    path = tmp_path / "model.so"
    if kind == "directory":
        path.mkdir()
    with pytest.raises(AitError, match="does not exist" if kind == "missing" else "is a directory"):
        Model(path)


@pytest.mark.parametrize("bad", [np.ones((2, 4), np.int32), np.ones((2, 4), bool),
                                 np.ones((2, 4), np.complex64), None])
def test_a_non_float_constant_is_an_error_not_cast(fake, bad):
    _, so = fake
    m = Model(so)
    with pytest.raises(AitError, match=r"constant 'w' is .*expected real numbers"):
        m.set_many_constants({"w": bad})


@pytest.mark.parametrize("bad", [None, 3, "x", AITData(0x100, (3, 4))])
def test_inputs_that_are_not_a_list_are_an_error_that_says_so(fake, bad):
    _, so = fake
    m = _ready(so)
    with pytest.raises(AitError, match=r"inputs must be a list of AITData \(or a dict by name\)"):
        m.run(bad, [AITData(0x108, (3, 2))])
    with pytest.raises(AitError, match=r"outputs must be a list of AITData"):
        m.run([AITData(0x100, (3, 4))], bad)
    lib = fake[0]
    runs = len(lib.runs)
    m.run((d for d in [AITData(0x100, (3, 4))]), [AITData(0x108, (3, 2))])  # any iterable
    assert len(lib.runs) == runs + 1 and lib.runs[-1][:3] == (0x100, 0x108, 3)


@pytest.fixture
def torch_first():
    """torch imported before `fake` patches ctypes.CDLL (torch loads libraries at import)."""
    return pytest.importorskip("torch")


def test_a_bare_tensor_instead_of_a_list_is_an_error_that_says_so(torch_first, fake):
    torch = torch_first
    _, so = fake
    m = _ready(so)
    x, y = torch.ones(3, 4, dtype=torch.float16), torch.ones(3, 2, dtype=torch.float16)
    for ins, outs, what in ((x, [y], "inputs"), ([x], y, "outputs"), (None, [y], "inputs")):
        with pytest.raises(AitError, match=rf"{what} must be a list of tensors"):
            m.run_with_tensors(ins, outs)


@pytest.mark.parametrize("on", [0, 1])
def test_the_model_says_whether_its_kernels_prefetch_their_weights(fake, on):
    """Model.weight_prefetch is what the runtime read from AIT_WEIGHT_PREFETCH at creation."""
    lib, so = fake
    lib.ait_model_weight_prefetch = _Fn(lambda h: on)
    m = Model(so)
    try:
        assert m.weight_prefetch is bool(on)
    finally:
        m.close()
