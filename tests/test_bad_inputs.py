"""Every bad input is named in one line with a non-zero exit, nothing is cast silently where
numbers would change, and the scripts check their files before the GPU (issue 12). CPU only;
random data throughout."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import ait
from ait import AitError, IntVar, Tensor, nn
from ait.ir.values import checked_array
from modeling.resnet import create_resnet
from tests.conftest import ROOT
from weight_utils import load_weights, save_weights

RNG = np.random.default_rng(12)
NUM_CLASSES = 1000  # what the scripts build


def _run(*args, env=None, timeout=300):
    import os

    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})


def _one_error_line(proc, *needles, code=1):
    """The process failed with `code` and said why in one line (no traceback)."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.strip().splitlines() if not line.startswith("warning")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.fixture(scope="module")
def model():
    return create_resnet("resnet18", num_classes=NUM_CLASSES)


@pytest.fixture(scope="module")
def params(model):
    """Random weights of the model's shapes (float16, as weight_utils writes them)."""
    from weight_utils import expected_shapes

    return {k: (RNG.standard_normal(s) * 0.05).astype(np.float16)
            for k, s in expected_shapes(model).items()}


@pytest.fixture(scope="module")
def good_file(params, tmp_path_factory):
    return save_weights(params, tmp_path_factory.mktemp("w") / "r18.npz")


# -- weights files --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int8", "int64", "bool", "complex64"])
def test_weights_of_a_non_float_dtype_are_an_error_naming_the_tensor(model, params, tmp_path,
                                                                     dtype):
    bad = dict(params)
    bad["fc_weight"] = (RNG.standard_normal(params["fc_weight"].shape) * 3).astype(dtype)
    path = save_weights(bad, tmp_path / "w.npz")
    with pytest.raises(AitError, match=rf"tensor 'fc_weight' is .*{dtype}.*expected real numbers"):
        load_weights(path, model)
    with pytest.raises(AitError, match="'fc_weight'"):  # without a model too
        load_weights(path)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_wider_float_weights_are_rounded_with_a_warning_naming_the_file(model, params, tmp_path,
                                                                        capsys, suffix):
    wide = {k: v.astype(np.float64) + RNG.standard_normal(v.shape) * 1e-6
            for k, v in params.items()}
    path = save_weights(wide, tmp_path / f"w{suffix}")
    back = load_weights(path, model)
    err = capsys.readouterr().err
    assert f"warning: {path}: {len(wide)} tensor(s) stored as float64 rounded to float16" in err
    for k in wide:
        assert back[k].dtype == np.float16
    np.testing.assert_array_equal(back["fc_bias"], wide["fc_bias"].astype(np.float16))


def test_float16_weights_load_without_a_warning(model, params, good_file, capsys):
    back = load_weights(good_file, model)
    assert capsys.readouterr().err == ""
    np.testing.assert_array_equal(back["fc_weight"], params["fc_weight"])


@pytest.mark.parametrize("value, what", [(np.nan, "NaN/Inf"), (np.inf, "NaN/Inf"),
                                         (1e6, "beyond the float16 range")])
def test_non_finite_or_overflowing_weights_are_named(model, params, tmp_path, value, what):
    bad = {k: v.astype(np.float32) for k, v in params.items()}
    bad["layer2_0_conv1_bias"][RNG.integers(0, bad["layer2_0_conv1_bias"].size)] = value
    path = save_weights(bad, tmp_path / "w.npz")
    with pytest.raises(AitError, match=rf"tensor 'layer2_0_conv1_bias' has 1 .*{what}"):
        load_weights(path, model)


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_an_empty_weights_file_is_named(model, tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    if suffix == ".npz":
        np.savez(path)
    else:
        from safetensors.numpy import save_file
        save_file({}, str(path))
    with pytest.raises(AitError, match=rf"weights file {path} holds no tensors; expected the "
                                       r"\d+ tensors of the model"):
        load_weights(path, model)


def test_infer_with_numpy_reports_a_bad_weights_dtype_in_one_line(params, tmp_path):
    bad = dict(params, fc_bias=RNG.integers(-100, 100, NUM_CLASSES).astype(np.int8))
    path = save_weights(bad, tmp_path / "w.npz")
    proc = _run("infer_with_numpy.py", "--model", "resnet18", "--weights", path)
    _one_error_line(proc, f"{path}: tensor 'fc_bias' is int8", "expected real numbers")


def test_a_directory_or_device_given_as_a_file_is_named_as_such(model, tmp_path):
    """Not "does not exist" for a path that exists: what is there instead, in one line."""
    from modeling.images import preprocess

    with pytest.raises(AitError, match=rf"weights file {tmp_path} is a directory"):
        load_weights(tmp_path, model)
    with pytest.raises(AitError, match="weights file /dev/null is not a regular file"):
        load_weights("/dev/null", model)
    with pytest.raises(AitError, match=rf"image file {tmp_path} is a directory"):
        preprocess(str(tmp_path))
    proc = _run("infer_with_numpy.py", "--model", "resnet18", "--weights", tmp_path)
    _one_error_line(proc, f"weights file {tmp_path} is a directory")
    proc = _run("infer_with_numpy.py", "--model", "resnet18", "--weights", tmp_path / "w.npz",
                "--input", tmp_path)
    _one_error_line(proc, f"--input {tmp_path}: is a directory")


def test_saving_weights_leaves_no_temporary_file(params, tmp_path):
    save_weights(params, tmp_path / "w.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.safetensors"]


@pytest.mark.parametrize("where", ["missing", "file"])
def test_weight_utils_out_into_a_missing_or_unusable_dir(tmp_path, where):
    if where == "missing":
        out = tmp_path / "no" / "such" / "w.npz"
        needle = "does not exist"
    else:
        (tmp_path / "afile").write_bytes(RNG.bytes(16))
        out = tmp_path / "afile" / "w.npz"
        needle = "does not exist"  # a file where the directory should be
    proc = _run("weight_utils.py", "--model", "resnet18", "--out", out, timeout=60)
    _one_error_line(proc, "--out", str(out), needle)
    proc = _run("weight_utils.py", "--model", "resnet18", "--out", tmp_path / "w.pt", timeout=60)
    _one_error_line(proc, "--out", ".npz or .safetensors")


@pytest.mark.parametrize("n", ["0", "-5", "ten"])
def test_weight_utils_rejects_a_non_positive_num_classes(tmp_path, n):
    proc = _run("weight_utils.py", "--num-classes", n, "--out", tmp_path / "w.npz", timeout=60)
    _one_error_line(proc, "--num-classes", "expected a positive integer", code=2)
    assert not (tmp_path / "w.npz").exists()


# -- images and arrays ----------------------------------------------------------------------
def test_a_16_bit_grayscale_png_is_scaled_not_saturated(tmp_path):
    from PIL import Image

    from modeling.images import load_image

    level = int(RNG.integers(2000, 60000))
    noise = RNG.integers(-500, 500, (240, 260))
    arr = np.clip(level + noise, 0, 65535).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    img = load_image(str(tmp_path / "g16.png"))
    assert img.shape == (224, 224, 3)
    np.testing.assert_allclose(img.mean(), arr.mean() / 65535, atol=5e-3)
    np.testing.assert_array_equal(img[..., 0], img[..., 2])  # gray in every channel


def test_an_unreadable_image_is_named(tmp_path):
    from modeling.images import preprocess

    junk = tmp_path / "cat.jpg"
    junk.write_bytes(RNG.bytes(100))
    with pytest.raises(AitError, match=rf"image file {junk}: cannot be read as an image"):
        preprocess(str(junk))
    with pytest.raises(AitError, match="image file .*nope.png does not exist"):
        preprocess(str(tmp_path / "nope.png"))


@pytest.mark.parametrize("dtype", ["int64", "uint8", "complex64", "bool"])
def test_infer_with_numpy_rejects_a_non_float_input(good_file, tmp_path, dtype):
    x = (RNG.standard_normal((2, 224, 224, 3)) * 50).astype(dtype)
    np.save(tmp_path / "x.npy", x)
    proc = _run("infer_with_numpy.py", "--model", "resnet18", "--weights", good_file, "--input",
                tmp_path / "x.npy")
    _one_error_line(proc, f"--input {tmp_path / 'x.npy'}", dtype, "expected real numbers")


@pytest.mark.parametrize("value", [np.nan, -np.inf, 1e5])
def test_infer_with_numpy_rejects_non_finite_or_out_of_range_input(good_file, tmp_path, value):
    x = RNG.standard_normal((2, 224, 224, 3)).astype(np.float32)
    x[1, 7, 9, 2] = value
    np.save(tmp_path / "x.npy", x)
    proc = _run("infer_with_numpy.py", "--model", "resnet18", "--weights", good_file, "--input",
                tmp_path / "x.npy")
    _one_error_line(proc, "--input", "1 ")
    assert ("(1, 7, 9, 2)" in proc.stderr) or ("float16 range" in proc.stderr)


def test_a_float64_input_is_rounded_with_a_warning(tmp_path, capsys):
    sys.path.insert(0, str(ROOT))
    import infer_with_numpy

    x = RNG.standard_normal((3, 224, 224, 3))
    np.save(tmp_path / "x.npy", x)
    args = infer_with_numpy.parse_args(["--weights", "w.npz", "--input", str(tmp_path / "x.npy")])
    out = infer_with_numpy.load_batch(args)
    assert "is float64; rounded to float16" in capsys.readouterr().err
    np.testing.assert_array_equal(out, x.astype(np.float32))


@pytest.mark.parametrize("script", ["infer_with_numpy.py", "infer_with_torch.py"])
@pytest.mark.parametrize("n", ["0", "-1"])
def test_max_batch_must_be_positive(good_file, script, n):
    proc = _run(script, "--weights", good_file, "--max-batch", n, timeout=60)
    _one_error_line(proc, "--max-batch", "expected a positive integer", code=2)


def test_max_batch_below_the_batch_is_an_error(good_file, tmp_path):
    proc = _run("infer_with_torch.py", "--batch-size", "4", "--max-batch", "2", timeout=60)
    _one_error_line(proc, "--max-batch 2 is smaller than --batch-size 4", code=2)
    np.save(tmp_path / "x.npy", RNG.standard_normal((3, 224, 224, 3)).astype(np.float32))
    proc = _run("infer_with_numpy.py", "--model", "resnet18", "--weights", good_file, "--input",
                tmp_path / "x.npy", "--max-batch", "2")
    _one_error_line(proc, "--max-batch 2 is smaller than the input's batch 3")


# -- order of checks: files before the GPU --------------------------------------------------
pytestmark_cpu = pytest.mark.skipif(_cuda(), reason="checks what a machine without a GPU says")


@pytestmark_cpu
def test_infer_with_torch_names_a_missing_image_or_weights_file_not_the_gpu(tmp_path):
    proc = _run("infer_with_torch.py", "--model", "resnet18", "--image", tmp_path / "cat.jpg")
    line = _one_error_line(proc, f"image file {tmp_path / 'cat.jpg'} does not exist")
    assert "CUDA" not in line
    proc = _run("infer_with_torch.py", "--model", "resnet18", "--weights", tmp_path / "w.npz")
    line = _one_error_line(proc, f"weights file {tmp_path / 'w.npz'} does not exist")
    assert "CUDA" not in line


@pytestmark_cpu
def test_benchmark_ait_names_its_files_before_the_gpu(tmp_path):
    proc = _run("benchmark_ait.py", "--batch-size", "1", "--weights", tmp_path / "w.npz",
                timeout=120)
    line = _one_error_line(proc, "benchmark_ait.py: error: weights file", "does not exist")
    assert "CUDA" not in line
    (tmp_path / "afile").write_bytes(RNG.bytes(8))
    proc = _run("benchmark_ait.py", "--batch-size", "1", "--workdir", tmp_path / "afile",
                timeout=120)
    _one_error_line(proc, "--workdir", "not a directory", code=2)  # refused at parse time


@pytestmark_cpu
def test_infer_with_numpy_on_a_cpu_machine_is_one_line(good_file, tmp_path):
    x = RNG.standard_normal((2, 224, 224, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    proc = _run("infer_with_numpy.py", "--model", "resnet18", "--weights", good_file,
                "--input", tmp_path / "x.npy", "--workdir", tmp_path / "work",
                env={"CUDA_VISIBLE_DEVICES": ""})
    _one_error_line(proc, "no CUDA GPU", "needs a GPU", "inputs and weights were checked")
    assert not (tmp_path / "work").exists()  # checked, not made: the run stopped before it
    proc = _run("infer_with_numpy.py", "--model", "resnet18", "--weights", good_file,
                "--input", tmp_path / "x.npy", "--debug", env={"CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 1 and "Traceback" in proc.stderr  # asked for


# -- graph API ------------------------------------------------------------------------------
def test_an_output_of_constants_only_is_an_error_at_build():
    fc = nn.Linear(8, 4)
    fc.name_parameter_tensor()
    y = fc(Tensor([2, 8], name="table"))  # a constant, not an input
    y.name = "out"
    with pytest.raises(AitError, match=r"output 'out' depends on no input \(only on constant"):
        ait.build_graph(y)
    from ait.backend.target import Target

    with pytest.raises(AitError, match="depends on no input"):  # before any kernel is chosen
        ait.compile_model(y, Target.for_arch(90), "unused", "m", profile=False)


def test_an_output_with_an_input_builds():
    fc = nn.Linear(8, 4)
    fc.name_parameter_tensor()
    y = fc(Tensor([IntVar([1, 8], "n"), 8], name="x", is_input=True))
    g = ait.build_graph(y)
    x = RNG.standard_normal((3, 8)).astype(np.float32)
    w, b = RNG.standard_normal((4, 8)), RNG.standard_normal(4)
    out = ait.run_reference(g, {"x": x}, {"weight": w, "bias": b})
    np.testing.assert_allclose(next(iter(out.values())), x @ w.T + b, rtol=1e-5, atol=1e-5)


def test_intvar_values_out_of_order_are_an_error():
    with pytest.raises(ValueError, match=r"IntVar batch: values \[256, 1\] are not in "
                                         r"increasing order; expected \[lo, hi\], e.g. \[1, 256\]"):
        IntVar([256, 1], "batch")
    v = IntVar([1, 8, 256], "b")  # AITemplate's list of values: first..last
    assert (v.lower_bound, v.upper_bound) == (1, 256)
    with pytest.raises(ValueError, match="positive int bounds"):
        IntVar([True, 4])


def _graph():
    m = nn.Conv2dBiasRelu(4, 4, 3, 1, 1)
    m.name_parameter_tensor()
    g = ait.build_graph(m(Tensor([IntVar([1, 4], "batch"), 6, 6, 4], name="x", is_input=True)))
    consts = {"weight": RNG.standard_normal((4, 3, 3, 4)), "bias": RNG.standard_normal(4)}
    return g, consts


@pytest.mark.parametrize("make, what", [
    (lambda: np.full((2, 6, 6, 4), "a"), "a string array"),
    (lambda: RNG.standard_normal((2, 6, 6, 4)) * 1j, "a complex array"),
    (lambda: RNG.standard_normal((2, 6, 6, 4)) > 0, "a boolean array"),
    (lambda: np.array([[[[object()] * 4] * 6] * 6] * 2), "an object array"),
])
def test_reference_executor_names_a_non_numeric_input(make, what):
    g, consts = _graph()
    with pytest.raises(AitError, match=f"input 'x' is {what}"):
        ait.run_reference(g, {"x": make()}, consts)
    with pytest.raises(AitError, match=f"constant 'bias' is {what}"):
        ait.run_reference(g, {"x": RNG.standard_normal((2, 6, 6, 4))},
                          {**consts, "bias": make()[0, 0, 0]})


def test_reference_executor_takes_exact_integers_only():
    g, consts = _graph()
    ints = RNG.integers(-50, 50, (2, 6, 6, 4))
    out = ait.run_reference(g, {"x": ints}, consts)
    ref = ait.run_reference(g, {"x": ints.astype(np.float32)}, consts)
    np.testing.assert_array_equal(next(iter(out.values())), next(iter(ref.values())))
    big = ints.astype(np.int64) + (1 << 40) + 1
    with pytest.raises(AitError, match="input 'x' is int64 with values that float32 cannot hold"):
        ait.run_reference(g, {"x": big}, consts)


def test_checked_array_rules():
    x = RNG.standard_normal((3, 4))
    assert checked_array(x, "t", "float16").rounded
    assert not checked_array(x.astype(np.float16), "t", "float16").rounded
    with pytest.raises(AitError, match="t is int32"):
        checked_array(x.astype(np.int32), "t", "float16")
    with pytest.raises(AitError, match="t has 2 value.s. beyond the float16 range"):
        checked_array(np.array([7e4, -1e5, 3.0]), "t", "float16")
