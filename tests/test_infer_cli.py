"""CPU checks of the inference scripts: help, argument errors, image preprocessing."""
import subprocess
import sys

import numpy as np
import pytest

from modeling.images import (IMAGENET_MEAN, IMAGENET_STD, preprocess, preprocess_for,
                             synthetic_image)
from tests.conftest import ROOT


def _run(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("script", ["infer_with_torch.py", "infer_with_numpy.py"])
def test_help(script):
    r = _run(script, "--help")
    assert r.returncode == 0
    assert "--model" in r.stdout and "--workdir" in r.stdout and "resnet50" in r.stdout


def test_infer_with_torch_rejects_bad_batch():
    r = _run("infer_with_torch.py", "--batch-size", "0")
    assert r.returncode == 2 and "--batch-size must be at least 1" in r.stderr


def test_infer_with_numpy_bad_input_is_one_clean_line(tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 224, 224), np.float32))  # NCHW, not NHWC
    w = tmp_path / "w.npz"
    np.savez(w, a=np.zeros(1))
    r = _run("infer_with_numpy.py", "--weights", str(w), "--input", str(tmp_path / "bad.npy"))
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0
    assert "expected [N, 224, 224, 3] NHWC, got (2, 3, 224, 224)" in r.stderr


def test_infer_with_numpy_missing_weights_file(tmp_path):
    r = _run("infer_with_numpy.py", "--weights", str(tmp_path / "nope.npz"))
    assert r.returncode == 1 and "does not exist" in r.stderr and "weight_utils.py" in r.stderr


def test_preprocess_synthetic_and_file(tmp_path):
    from PIL import Image

    syn = preprocess(None)
    assert syn.shape == (224, 224, 3) and syn.dtype == np.float32
    expected = (synthetic_image() - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(syn, expected, rtol=1e-5, atol=1e-6)
    # a 300x200 image of one colour: resized, cropped to 224x224, normalised per channel
    Image.new("RGB", (300, 200), (255, 0, 128)).save(tmp_path / "c.png")
    img = preprocess(str(tmp_path / "c.png"), 224, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25),
                     crop_pct=0.875, interpolation="bicubic")
    assert img.shape == (224, 224, 3)
    np.testing.assert_allclose(img[112, 112], [2.0, -2.0, (128 / 255 - 0.5) / 0.25], atol=1e-2)


def test_preprocess_with_timm_config(tmp_path):
    timm = pytest.importorskip("timm")
    from PIL import Image

    cfg = timm.create_model("resnet18").pretrained_cfg
    img = preprocess_for(None, cfg)
    assert img.shape == (224, 224, 3)
    Image.new("RGB", (256, 320), (10, 200, 90)).save(tmp_path / "c.jpg")
    img = preprocess_for(str(tmp_path / "c.jpg"), cfg)
    want = (np.array([10, 200, 90]) / 255 - np.array(cfg["mean"])) / np.array(cfg["std"])
    np.testing.assert_allclose(img[100, 100], want, atol=0.05)


def test_nonfinite_logits_are_reported_not_ranked():
    from modeling.logits import nonfinite_report

    ok = np.random.default_rng(0).standard_normal((3, 10)).astype(np.float32)
    assert nonfinite_report(ok) is None
    bad = ok.copy()
    bad[1, 4] = np.nan
    bad[2, :] = np.inf
    msg = nonfinite_report(bad)
    assert "11 non-finite logit(s) in 2 of 3 image(s) (1, 2)" in msg and "fp16" in msg


def test_infer_with_torch_report_fails_on_nan_logits(capsys):
    """NaN compares false with every limit: the report must fail on it, not pass."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("iwt", ROOT / "infer_with_torch.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    ref = np.random.default_rng(1).standard_normal((2, 10)).astype(np.float32)
    ours = ref.copy()
    assert script.report(ours, ref, "test", 1e-2) == 0
    ours[0, 0] = np.nan
    assert script.report(ours, ref, "test", 1e-2) == 1
    assert "error: ait: the model's output has 1 non-finite logit(s)" in capsys.readouterr().err
