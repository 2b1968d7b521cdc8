"""modeling.build.compile_resnet up to the compiler call (CPU): argument plumbing and names."""
import pytest

import modeling.build as build
from ait.backend.target import Target


@pytest.fixture
def captured(monkeypatch):
    calls = []

    def fake_compile_model(y, target, workdir, name, profile=True, num_runtimes=1):
        calls.append({"y": y, "target": target, "workdir": workdir, "name": name,
                      "profile": profile, "num_runtimes": num_runtimes})
        return "model"

    monkeypatch.setattr(build, "compile_model", fake_compile_model)
    return calls


@pytest.mark.parametrize("stem", ["padded", "space_to_depth"])
def test_compile_resnet_passes_everything_through(captured, stem):
    target = Target.for_arch(90, nvcc="nvcc")
    out = build.compile_resnet("resnet18", (1, 8), "wd", use_fp16_acc=True, num_classes=10,
                               image_size=64, target=target, profile=False, stem=stem,
                               num_runtimes=3)
    assert out == "model"
    (call,) = captured
    assert call["target"] is target and call["profile"] is False and call["workdir"] == "wd"
    assert call["num_runtimes"] == 3
    suffix = "padded" if stem == "padded" else "s2d"
    assert call["name"] == f"resnet18_b1-8_64px_10c_acc16_{suffix}"
    assert call["y"].shape()[-1].value == 10


def test_stems_get_distinct_artifact_names():
    names = {build.artifact_name("resnet50", (1, 256), False, 1000, 224, stem)
             for stem in ("padded", "space_to_depth")}
    assert len(names) == 2


def test_bad_batch_range_is_rejected(captured):
    with pytest.raises(ValueError, match="batch_sizes"):
        build.compile_resnet("resnet18", (0, 8), target=Target.for_arch(90, nvcc="nvcc"))
    assert not captured
