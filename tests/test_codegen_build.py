"""CPU-only: a tiny model (stem conv, pools, residual conv, linear) goes through codegen and
nvcc into a .so with a fixed kernel per op (no profiling), so codegen breakage is caught on
machines without a GPU."""
import ctypes
import json

import pytest

import ait
from ait import IntVar, Tensor, nn
from ait.backend.target import Target, _find_nvcc_or_none
from ait.ops.elementwise import relu

pytestmark = pytest.mark.skipif(_find_nvcc_or_none() is None, reason="no nvcc found")


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2dBiasReluFewChannels(3, 16, 3, 2, 1)
        self.c = nn.Conv2d(16, 16, 3, 1, 1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        y = nn.MaxPool2d(3, 2, 1)(self.stem(x))
        z = relu(self.c(y) + y)
        return self.fc(nn.Flatten()(nn.AvgPool2d(4, 1)(z)))


def tiny_graph(batch=(1, 64)):
    m = Tiny()
    m.name_parameter_tensor()
    x = Tensor([IntVar(list(batch), "batch"), 16, 16, 3], name="x", is_input=True)
    y = m(x)
    y.name = "logits"
    return m, y


def test_tiny_model_compiles_to_a_shared_library(tmp_path, monkeypatch):
    monkeypatch.setenv("AIT_CACHE_DIR", str(tmp_path / "cache"))
    _, y = tiny_graph()
    target = Target.for_arch(90)
    try:
        ait.compile_model(y, target, tmp_path / "work", "tiny", profile=False)
    except ait.AitError as e:  # no GPU here: creating the model fails, the .so exists
        assert "creating the model failed" in str(e)
    so = tmp_path / "work" / "tiny" / "tiny.so"
    assert so.is_file()
    lib = ctypes.CDLL(str(so))
    lib.ait_model_metadata.restype = ctypes.c_char_p
    meta = json.loads(lib.ait_model_metadata())
    assert [i["name"] for i in meta["inputs"]] == ["x"]
    assert meta["outputs"][0]["shape"] == [{"dim": "batch", "lower": 1, "upper": 64}, 10]
    kinds = [op["kind"] for op in meta["ops"]]
    assert kinds == ["pad_channels", "conv2d", "pool2d", "conv2d", "pool2d", "reshape", "gemm_rcr"]
    conv = meta["ops"][3]["kernels"]
    assert conv["upper"] == [1, 2, 4, 8, 16, 32, 64] and len(conv["names"]) == 7
    for op in meta["ops"]:
        for name in (op["kernels"] or {"names": []})["names"]:
            assert hasattr(lib, name) and hasattr(lib, name + "_workspace_bytes")
    model_cu = (tmp_path / "work" / "tiny" / "model.cu").read_text()
    assert "bias_add_relu" in model_cu and "ait_pad_channels" in model_cu


def test_space_to_depth_stem_compiles(tmp_path, monkeypatch):
    """The experimental space-to-depth stem goes through codegen and nvcc too."""
    monkeypatch.setenv("AIT_CACHE_DIR", str(tmp_path / "cache"))
    m = nn.Conv2dBiasReluSpaceToDepth(3, 16, 7, 2, 3)
    m.name_parameter_tensor()
    x = Tensor([IntVar([1, 8], "batch"), 32, 32, 3], name="x", is_input=True)
    y = m(x)
    try:
        ait.compile_model(y, Target.for_arch(90), tmp_path / "work", "s2d", profile=False)
    except ait.AitError as e:
        assert "creating the model failed" in str(e)
    lib = ctypes.CDLL(str(tmp_path / "work" / "s2d" / "s2d.so"))
    lib.ait_model_metadata.restype = ctypes.c_char_p
    meta = json.loads(lib.ait_model_metadata())
    assert [op["kind"] for op in meta["ops"]] == ["space_to_depth", "conv2d"]
    assert meta["constants"][0]["shape"] == [16, 4, 4, 16]
    assert hasattr(lib, "ait_space_to_depth")


def test_a_model_exports_no_process_wide_unique_symbols(tmp_path, monkeypatch):
    """A static local of a function with external linkage is an STB_GNU_UNIQUE symbol ('u' in
    nm): the dynamic linker makes it one for every .so of the process, so a second model would
    read the first one's cached state (a kernel's shared-memory opt-in done once: the second
    model's launch then fails). Every own kernel and CUTLASS unit keeps such state internal."""
    import shutil
    import subprocess

    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("no nm")
    monkeypatch.setenv("AIT_CACHE_DIR", str(tmp_path / "cache"))
    _, y = tiny_graph()
    try:
        ait.compile_model(y, Target.for_arch(90), tmp_path / "work", "tiny", profile=False)
    except ait.AitError as e:
        assert "creating the model failed" in str(e)
    so = tmp_path / "work" / "tiny" / "tiny.so"
    syms = subprocess.run([nm, "-D", "--defined-only", str(so)], capture_output=True,
                          text=True, check=True).stdout.splitlines()
    # libcu++'s stateless tag and customization-point objects (cuda::std::in_place, ...)
    # are unique too, and harmless: they hold no state
    unique = [line for line in syms if line.split()[1:2] == ["u"]
              and not line.split()[2].startswith("_ZN4cuda3std")]
    assert not unique, "process-wide unique symbols:\n" + "\n".join(unique[:10])
