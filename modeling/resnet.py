"""ResNet-18/34/50/101/152 and Wide ResNet-50-2 in ait's frontend (mirrors AITemplate's
examples/resnet50/modeling/resnet.py, built on the fused conv layers).

Attribute names follow timm's ``ResNet`` so that every parameter's name is timm's state-dict
key with '.' replaced by '_' (BN folded into the conv bias): weight_utils depends on it.
"""
from __future__ import annotations

from dataclasses import dataclass

from ait import IntVar, ShapeError, Tensor, nn


@dataclass(frozen=True)
class ResNetSpec:
    block: str                     # "basic" or "bottleneck"
    layers: tuple[int, int, int, int]
    base_width: int = 64           # bottleneck width per 64 planes (wide resnets: 128)


SPECS = {
    "resnet18": ResNetSpec("basic", (2, 2, 2, 2)),
    "resnet34": ResNetSpec("basic", (3, 4, 6, 3)),
    "resnet50": ResNetSpec("bottleneck", (3, 4, 6, 3)),
    "resnet101": ResNetSpec("bottleneck", (3, 4, 23, 3)),
    "resnet152": ResNetSpec("bottleneck", (3, 8, 36, 3)),
    "wide_resnet50_2": ResNetSpec("bottleneck", (3, 4, 6, 3), base_width=128),
}


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None,
                 base_width: int = 64, dtype: str = "float16"):
        super().__init__()
        self.conv1 = nn.Conv2dBiasRelu(inplanes, planes, 3, stride, 1, dtype=dtype)
        self.conv2 = nn.Conv2dBiasAddRelu(planes, planes, 3, 1, 1, dtype=dtype)
        if downsample is not None:
            self.downsample = downsample

    def forward(self, x):
        shortcut = self.downsample(x) if "downsample" in self._modules else x
        return self.conv2(self.conv1(x), shortcut)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None,
                 base_width: int = 64, dtype: str = "float16"):
        super().__init__()
        width = planes * base_width // 64
        self.conv1 = nn.Conv2dBiasRelu(inplanes, width, 1, 1, 0, dtype=dtype)
        self.conv2 = nn.Conv2dBiasRelu(width, width, 3, stride, 1, dtype=dtype)  # timm: stride here
        self.conv3 = nn.Conv2dBiasAddRelu(width, planes * self.expansion, 1, 1, 0, dtype=dtype)
        if downsample is not None:
            self.downsample = downsample

    def forward(self, x):
        shortcut = self.downsample(x) if "downsample" in self._modules else x
        return self.conv3(self.conv2(self.conv1(x)), shortcut)


STEMS = ("space_to_depth", "padded")
DEFAULT_STEM = "space_to_depth"


class ResNet(nn.Module):
    """``stem``: "space_to_depth" (default) runs the 7x7/2 stem as a 4x4/1 conv over a
    16-channel space-to-depth input: 35% fewer multiply-adds than "padded", ordinary aligned
    kernels; on the H200 at batch 256 s2d + conv take 0.88 ms against 1.30 ms for "padded"
    (the 7x7/2 conv over RGB zero-padded to 8 channels with FixedChannels kernels). The
    build's fuse_stem pass then runs s2d, conv and max pool as one kernel (ait/ops/stem);
    "padded" stays three ops."""

    def __init__(self, spec: ResNetSpec, num_classes: int = 1000, in_chans: int = 3,
                 dtype: str = "float16", stem: str = DEFAULT_STEM):
        super().__init__()
        if stem not in STEMS:
            raise ValueError(f"unknown stem {stem!r}; choose one of {', '.join(STEMS)}")
        block = BasicBlock if spec.block == "basic" else Bottleneck
        self.spec, self.in_chans, self.num_classes = spec, in_chans, num_classes
        if stem == "padded":
            self.conv1 = nn.Conv2dBiasReluFewChannels(in_chans, 64, 7, 2, 3, dtype=dtype,
                                                      pad_to=8)
        else:
            self.conv1 = nn.Conv2dBiasReluSpaceToDepth(in_chans, 64, 7, 2, 3, dtype=dtype)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = 64
        for i, (planes, blocks) in enumerate(zip((64, 128, 256, 512), spec.layers)):
            stride = 1 if i == 0 else 2
            layer = []
            for b in range(blocks):
                s = stride if b == 0 else 1
                down = None
                if b == 0 and (s != 1 or inplanes != planes * block.expansion):
                    down = nn.Sequential(
                        nn.Conv2dBias(inplanes, planes * block.expansion, 1, s, 0, dtype=dtype))
                layer.append(block(inplanes, planes, s, down, spec.base_width, dtype))
                inplanes = planes * block.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*layer))
        self.num_features = inplanes
        self.fc = nn.Linear(inplanes, num_classes, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        n, h, w, _ = x.shape()
        y = self.maxpool(self.conv1(x))
        for i in range(1, 5):
            y = getattr(self, f"layer{i}")(y)
        _, fh, fw, _ = y.shape()
        y = nn.AvgPool2d((fh.value, fw.value), 1)(y)  # global average pool, as upstream
        y = nn.Flatten()(y)
        return self.fc(y)


INDEX_LIMIT = 2**31 - 1  # int32 element indices: the kernels' (pool2d refuses beyond it)


def max_batch(image_size: int = 224) -> int:
    """The largest batch a compiled ResNet takes at ``image_size`` (2674 at 224): its largest
    activation, the stem's output (64 channels at half the size; layer1's 256 at a quarter is
    as big), must hold fewer than 2**31 elements. Scripts check a batch size against it
    before they allocate anything (a batch of 100000 images is ~60 GB on the host)."""
    half = (image_size + 1) // 2
    return max(1, INDEX_LIMIT // (64 * half * half))


def batch_problem(flag: str, n: int, image_size: int = 224) -> str | None:
    """Why ``n`` given as ``flag`` is no batch a compiled ResNet takes (None when it is)."""
    limit = max_batch(image_size)
    if n > limit:
        return (f"{flag} {n} is larger than a ResNet at {image_size}x{image_size} takes "
                f"(at most {limit}: its largest activation must hold fewer than 2**31 "
                "elements)")
    return None


def create_resnet(name: str = "resnet50", num_classes: int = 1000,
                  dtype: str = "float16", stem: str = DEFAULT_STEM) -> ResNet:
    if name not in SPECS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(SPECS)}")
    return ResNet(SPECS[name], num_classes, dtype=dtype, stem=stem)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_graph_args(batch_size, image_size) -> int | tuple[int, int]:
    """The batch (an int, or a (lo, hi) pair) and image size of a ResNet graph, checked:
    positive ints, lo <= hi, at most max_batch(image_size); a ShapeError names the argument
    (a batch of 0 built a model of empty tensors, (1, 2, 3) became (1, 3), image size 0 a
    message about a 4x4 filter)."""
    if not _is_int(image_size) or image_size < 1:
        raise ShapeError(f"ResNet: image_size must be a positive int, got {image_size!r}")
    if isinstance(batch_size, (tuple, list)):
        if len(batch_size) != 2 or not all(_is_int(b) for b in batch_size):
            raise ShapeError(f"ResNet: batch_size must be an int or a (lo, hi) pair of ints, "
                             f"got {batch_size!r}")
        lo, hi = batch_size
        if not 1 <= lo <= hi:
            raise ShapeError(f"ResNet: batch range {lo}..{hi} needs 1 <= lo <= hi")
        batch: int | tuple[int, int] = (lo, hi)
    elif _is_int(batch_size) and batch_size >= 1:
        batch = hi = batch_size
    else:
        raise ShapeError(f"ResNet: batch_size must be a positive int or a (lo, hi) pair, got "
                         f"{batch_size!r}")
    if (why := batch_problem("batch size", hi, image_size)) is not None:
        raise ShapeError(f"ResNet: {why}")
    return batch


def build_resnet_graph(name: str = "resnet50", batch_size: int | tuple[int, int] = 1,
                       image_size: int = 224, num_classes: int = 1000, dtype: str = "float16",
                       stem: str = DEFAULT_STEM):
    """The model and its output tensor for input ``input0`` [N, H, W, 3] (NHWC).

    ``batch_size`` is an int (static) or (lo, hi) for a dynamic batch served by one model.
    """
    batch = _check_graph_args(batch_size, image_size)
    model = create_resnet(name, num_classes, dtype, stem)
    model.name_parameter_tensor()
    batch = IntVar(list(batch), name="batch_size") if isinstance(batch, tuple) else batch
    x = Tensor([batch, image_size, image_size, model.in_chans], name="input0", dtype=dtype,
               is_input=True)
    y = model(x)
    y.name = "output0"
    y.is_output = True
    return model, y
