"""weight_utils: BN folding, layout, files and their errors."""
import copy
import subprocess
import sys

import numpy as np
import pytest
import torch

from ait import AitError
from modeling.resnet import create_resnet
from tests.conftest import ROOT
from weight_utils import (conform, fold_timm_state, load_weights, save_weights, timm_resnet,
                          timm_to_ait)

timm = pytest.importorskip("timm")


@pytest.fixture(scope="module")
def r18():
    return timm_resnet("resnet18", seed=1, num_classes=10)


def test_bn_folding_matches_conv_then_bn(r18):
    """Folded conv1 (OHWI, bias) equals timm's conv1 followed by bn1 (with its own eps)."""
    r18.bn1.eps = 1e-3  # folding must use each BN's own eps
    folded = fold_timm_state(r18)
    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad():
        ref = r18.bn1(r18.conv1(x)).permute(0, 2, 3, 1).numpy()
    from ait.ops.conv2d.reference import conv2d_nhwc

    out = conv2d_nhwc(x.permute(0, 2, 3, 1).numpy(), folded["conv1_weight"], (2, 2), (3, 3),
                      (1, 1)) + folded["conv1_bias"]
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)
    r18.bn1.eps = 1e-5


def test_names_layout_padding_and_dtype(r18):
    padded = timm_to_ait(r18, create_resnet("resnet18", num_classes=10, stem="padded"))
    assert padded["conv1_weight"].shape == (64, 7, 7, 8)
    assert not padded["conv1_weight"][..., 3:].any()  # padded channels are zero
    model = create_resnet("resnet18", num_classes=10)  # default stem: space-to-depth
    params = timm_to_ait(r18, model)
    assert params["conv1_weight"].shape == (64, 4, 4, 16)
    assert params["layer2_0_downsample_0_weight"].shape == (128, 1, 1, 64)
    assert params["fc_weight"].shape == (10, 512)
    assert all(v.dtype == np.float16 and v.flags.c_contiguous for v in params.values())
    # every ait parameter name is a timm key with '.' -> '_' (bias: the folded BN)
    timm_keys = {k.replace(".", "_") for k in r18.state_dict()}
    for name in params:
        assert name in timm_keys or name.endswith("_bias")


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
def test_weights_file_round_trip(r18, tmp_path, suffix):
    model = create_resnet("resnet18", num_classes=10)
    params = timm_to_ait(r18, model)
    path = save_weights(params, tmp_path / f"w{suffix}")
    back = load_weights(path, model)
    assert back.keys() == params.keys()
    for k in params:
        np.testing.assert_array_equal(back[k], params[k])


def test_missing_and_misshaped_keys_are_named(r18):
    model = create_resnet("resnet18", num_classes=10)
    params = dict(timm_to_ait(r18, model))
    bad = dict(params)
    del bad["layer3_1_conv2_bias"]
    with pytest.raises(AitError, match="missing 1 key.*'layer3_1_conv2_bias'"):
        conform(bad, model)
    bad = dict(params, layer1_0_conv1_weight=np.zeros((64, 3, 3, 32), np.float16))
    with pytest.raises(AitError, match=r"'layer1_0_conv1_weight' has shape \(64, 3, 3, 32\)"):
        conform(bad, model)
    bad = dict(params, extra_thing=np.zeros(3))
    with pytest.raises(AitError, match="unknown key.*'extra_thing'"):
        conform(bad, model)


def test_bad_files(tmp_path):
    with pytest.raises(AitError, match="does not exist"):
        load_weights(tmp_path / "nope.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file at all")
    with pytest.raises(AitError, match="is a text file.*expected an .npz archive or a "
                                       ".safetensors file"):
        load_weights(junk)
    pickled = tmp_path / "obj.npz"
    np.savez(pickled, a=np.array([{"x": 1}], dtype=object))  # needs pickle to read
    with pytest.raises(AitError, match="tensor 'a' is an object array.*never unpickled"):
        load_weights(pickled)
    with pytest.raises(AitError, match=r"\.npz or \.safetensors"):
        save_weights({"a": np.zeros(2)}, tmp_path / "w.pt")


def test_cli_writes_a_loadable_file(tmp_path):
    out = tmp_path / "r18.npz"
    r = subprocess.run([sys.executable, "weight_utils.py", "--model", "resnet18", "--num-classes",
                        "10", "--seed", "3", "--out", str(out)], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout
    params = load_weights(out, create_resnet("resnet18", num_classes=10))
    assert params["fc_bias"].shape == (10,)
    r = subprocess.run([sys.executable, "weight_utils.py", "--help"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "--pretrained" in r.stdout


def test_import_ait_does_not_import_torch():
    code = "import sys, ait, ait.runtime; assert 'torch' not in sys.modules, 'torch imported'"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("stem", ["padded", "space_to_depth"])
def test_stem_weight_restores_to_the_framework_layout(r18, stem):
    model = create_resnet("resnet18", num_classes=10, stem=stem)
    params = timm_to_ait(r18, model, dtype="float32")
    folded = fold_timm_state(r18)["conv1_weight"]  # OHWI [64, 7, 7, 3]
    np.testing.assert_array_equal(model.conv1.restore_weight(params["conv1_weight"]), folded)


def test_a_padded_stem_file_loads_into_a_space_to_depth_model(r18):
    padded = timm_to_ait(r18, create_resnet("resnet18", num_classes=10, stem="padded"))
    s2d_model = create_resnet("resnet18", num_classes=10, stem="space_to_depth")
    direct = timm_to_ait(r18, s2d_model)
    converted = conform(padded, s2d_model)
    assert converted["conv1_weight"].shape == direct["conv1_weight"].shape == (64, 4, 4, 16)
    np.testing.assert_array_equal(converted["conv1_weight"], direct["conv1_weight"])
    # padded channels that are not zero are not a padded weight: refused, key named
    bad = dict(padded, conv1_weight=np.ones((64, 7, 7, 8), np.float16))
    with pytest.raises(AitError, match="'conv1_weight' has shape"):
        conform(bad, s2d_model)


@pytest.mark.parametrize("stem", ["padded", "space_to_depth"])
def test_infer_with_torch_loads_ait_weights_back_into_timm(r18, stem):
    """infer_with_torch runs timm on the weights of a --weights file: folding them back out
    of timm again must give the same file contents."""
    from infer_with_torch import _load_into_timm

    model = create_resnet("resnet18", num_classes=10, stem=stem)
    params = timm_to_ait(r18, model, dtype="float32")
    torch.manual_seed(3)
    other = timm.create_model("resnet18", num_classes=10).eval()
    _load_into_timm(other, params, model)
    again = timm_to_ait(other, model, dtype="float32")
    for k in params:
        np.testing.assert_allclose(again[k], params[k], rtol=1e-6, atol=1e-6, err_msg=k)


def test_a_space_to_depth_stem_file_loads_into_a_padded_model(r18):
    s2d = timm_to_ait(r18, create_resnet("resnet18", num_classes=10, stem="space_to_depth"))
    padded_model = create_resnet("resnet18", num_classes=10, stem="padded")
    converted = conform(s2d, padded_model)
    np.testing.assert_array_equal(converted["conv1_weight"],
                                  timm_to_ait(r18, padded_model)["conv1_weight"])
    bad = dict(s2d, conv1_weight=np.ones((64, 4, 4, 16), np.float16))  # nonzero "zero taps"
    with pytest.raises(AitError, match="'conv1_weight' has shape"):
        conform(bad, padded_model)


@pytest.mark.parametrize("name", ["resnet101", "resnet152"])
def test_random_deep_resnets_stay_in_fp16_range(name):
    """A random ResNet-101 / 152 (BN statistics randomised) peaks at ~4e5 / ~2e9 in fp32: inf
    in fp16. timm_resnet scales the residual branches' last BN down until a probe image
    peaks below FP16_SAFE_PEAK; an independent image then stays far inside fp16 too."""
    from weight_utils import keep_in_fp16_range, randomize_bn

    torch.manual_seed(0)
    raw = timm.create_model(name).eval()
    randomize_bn(raw, 0)
    tm = timm_resnet(name, seed=0)
    assert keep_in_fp16_range(tm, 0) == 1.0  # already scaled: nothing left to do
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        assert float(raw(x).abs().max()) > 65504  # the problem is real
        y = tm(x)
    assert torch.isfinite(y).all() and float(y.abs().max()) < 65504 / 8
    assert float(y.abs().max()) > 1e-2  # not scaled to nothing
    with torch.no_grad():  # an independent fp16 engine (torch on the CPU) agrees
        assert not torch.isfinite(copy.deepcopy(raw).half()(x[:1].half())).all()
        half = copy.deepcopy(tm).half()(x[:1].half()).float()
    assert torch.isfinite(half).all()
    assert float((half - y[:1]).norm() / y[:1].norm()) < 1e-2


def test_shallow_random_resnets_are_left_as_they_were():
    """ResNet-18 / 50 peak well inside fp16: their random weights do not change."""
    from weight_utils import keep_in_fp16_range, randomize_bn

    for name in ("resnet18", "resnet50"):
        torch.manual_seed(3)
        tm = timm.create_model(name).eval()
        randomize_bn(tm, 3)
        before = {k: v.clone() for k, v in tm.state_dict().items()}
        assert keep_in_fp16_range(tm, 3) == 1.0
        assert all(torch.equal(before[k], v) for k, v in tm.state_dict().items())
