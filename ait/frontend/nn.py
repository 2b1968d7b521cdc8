"""torch-like modules that build an ait graph when called (AITemplate's ``nn`` names).

Parameters are constant Tensors; ``name_parameter_tensor()`` names each one after its
attribute path with '.' replaced by '_', which is also the TIMM state-dict key with '.'
replaced by '_' (weight_utils relies on that). Conv weights are OHWI, activations NHWC.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator, Sequence

from ait.ir import IntImm, ShapeError, Tensor
from ait.ops.conv2d import conv2d
from ait.ops.conv2d.op import FEW_CHANNELS, _pair
from ait.ops.elementwise import add, relu
from ait.ir.epilogue import Activation
from ait.ops.gemm import gemm_rcr
from ait.ops.pad import pad_channels
from ait.ops.pool import avg_pool2d, max_pool2d
from ait.ops.reshape import flatten, reshape
from ait.ops.space_to_depth import space_to_depth
from ait.ops.space_to_depth.op import s2d_conv_weight, s2d_conv_weight_inverse


def _positive(module: str, **values) -> None:
    """Each of `values` (a module's sizes: channels, features) must be an int >= 1; a
    ShapeError names the module and the argument otherwise (0 made an empty weight that every
    op then took, and 2.5 a confusing TypeError)."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ShapeError(f"{module}: {name} must be a positive int, got {v!r}")


def _input_channels(module: str, x, *expected: int) -> int:
    c = x.shape()[-1]
    if not isinstance(c, IntImm) or c.value not in expected:
        want = " or ".join(map(str, dict.fromkeys(expected)))
        raise ShapeError(f"{module}: the input {x.name or '<unnamed>'} has {c} channels (shape "
                         f"{[str(d) for d in x.shape()]}), expected {want}")
    return c.value


class Parameter:
    """A named constant of a module; ``.tensor`` is the graph tensor."""

    def __init__(self, shape: Sequence[int], dtype: str = "float16"):
        self.tensor = Tensor(shape, dtype=dtype)

    def shape(self) -> list[int]:
        return [d.value for d in self.tensor.shape()]


class Module:
    def __init__(self):
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_parameters", OrderedDict())

    def __setattr__(self, name, value):
        if isinstance(value, Module):
            self._modules[name] = value
        elif isinstance(value, Parameter):
            self._parameters[name] = value
        object.__setattr__(self, name, value)

    def add_module(self, name: str, module: "Module") -> None:
        setattr(self, name, module)

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        yield from self._modules.items()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for name, p in self._parameters.items():
            yield prefix + name, p
        for name, m in self._modules.items():
            yield from m.named_parameters(prefix + name + ".")

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        yield prefix.rstrip("."), self
        for name, m in self._modules.items():
            yield from m.named_modules(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def name_parameter_tensor(self) -> None:
        for name, p in self.named_parameters():
            p.tensor.name = name.replace(".", "_")

    def forward(self, *args):
        raise NotImplementedError

    def __call__(self, *args):
        return self.forward(*args)


class Sequential(Module):
    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class _ConvBase(Module):
    """Holds an OHWI weight [out, kh, kw, in] and optionally a bias [out]."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 bias=True, dtype="float16"):
        super().__init__()
        kind = type(self).__name__
        _positive(kind, in_channels=in_channels, out_channels=out_channels)
        kh, kw = _pair(kernel_size, "kernel_size")
        _positive(kind, kernel_size=min(kh, kw))
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.weight = Parameter([out_channels, kh, kw, in_channels], dtype)
        if bias:
            self.bias = Parameter([out_channels], dtype)

    def _conv(self, x, residual=None, activation=None, few_channels=False):
        return conv2d(x, self.weight.tensor, self.bias.tensor, residual, self.stride,
                      self.padding, self.dilation, activation, few_channels)


class Conv2d(_ConvBase):
    """Plain convolution; with bias=True (default) a separate bias add that fusion folds."""

    def forward(self, x):
        y = conv2d(x, self.weight.tensor, stride=self.stride, pad=self.padding,
                   dilation=self.dilation)
        return add(y, self.bias.tensor) if "bias" in self._parameters else y


class Conv2dBias(_ConvBase):
    def forward(self, x):
        return self._conv(x)


class Conv2dBiasRelu(_ConvBase):
    def forward(self, x):
        return self._conv(x, activation=Activation.RELU)


class Conv2dBiasAdd(_ConvBase):
    def forward(self, x, residual):
        return self._conv(x, residual)


class Conv2dBiasAddRelu(_ConvBase):
    """relu(conv(x) + bias + residual), called as ``conv(x, residual)``."""

    def forward(self, x, residual):
        return self._conv(x, residual, Activation.RELU)


class Conv2dBiasReluFewChannels(_ConvBase):
    """Stem conv for inputs with few channels (RGB): the input is zero-padded to 4 (or 8)
    channels so the FixedChannels kernels apply; the weight is stored already padded
    ([out, kh, kw, padded]; ``transform_weight`` pads it). Call with the unpadded input."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 dtype="float16", pad_to: int | None = None):
        _positive("Conv2dBiasReluFewChannels", in_channels=in_channels)
        padded = pad_to or next((c for c in FEW_CHANNELS if c >= in_channels), None)
        if padded is None or padded not in FEW_CHANNELS or padded < in_channels:
            raise ValueError(f"Conv2dBiasReluFewChannels: {in_channels} input channels cannot be "
                             f"padded to one of {FEW_CHANNELS}")
        super().__init__(padded, out_channels, kernel_size, stride, padding, dilation, True, dtype)
        self.orig_channels = in_channels
        kh, kw = _pair(kernel_size, "kernel_size")
        self.source_weight_shape = (out_channels, kh, kw, in_channels)

    def transform_weight(self, w):
        """[out, kh, kw, in] (the framework's layout) -> the stored, channel-padded weight."""
        import numpy as np

        return np.pad(w, ((0, 0),) * 3 + ((0, self.in_channels - w.shape[3]),))

    def restore_weight(self, w):
        """The stored weight -> the framework's [out, kh, kw, in] (inverse of transform)."""
        return w[..., : self.orig_channels]

    def forward(self, x):
        # the unpadded input, or one padded already; any other width would be padded silently
        if _input_channels(type(self).__name__, x, self.orig_channels,
                           self.in_channels) != self.in_channels:
            x = pad_channels(x, self.in_channels)
        return self._conv(x, activation=Activation.RELU, few_channels=True)


class Conv2dBiasReluSpaceToDepth(Module):
    """A stride-2 stem conv with few input channels run as space-to-depth (2x2 blocks, channels
    padded to a multiple of 8) followed by a stride-1 conv with a ceil(k/2) filter: same result,
    fewer multiply-adds, ordinary 16-byte-aligned kernels. The stored weight is the rearranged
    one ([out, ceil(kh/2), ceil(kw/2), channels]); ``transform_weight`` makes it from the
    framework's [out, kh, kw, in]. Call with the unpadded NHWC input."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=2, padding=0,
                 dtype="float16"):
        super().__init__()
        _positive("Conv2dBiasReluSpaceToDepth", in_channels=in_channels,
                  out_channels=out_channels)
        kh, kw = _pair(kernel_size, "kernel_size")
        _positive("Conv2dBiasReluSpaceToDepth", kernel_size=min(kh, kw))
        if _pair(stride, "stride") != (2, 2) or len(set(_pair(padding, "padding"))) != 1:
            raise ValueError("Conv2dBiasReluSpaceToDepth: stride must be 2 and the padding equal "
                             "on both axes")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.padding = _pair(padding, "padding")[0]
        self.channels = -(-4 * in_channels // 8) * 8
        self.source_weight_shape = (out_channels, kh, kw, in_channels)
        self.weight = Parameter([out_channels, (kh + 1) // 2, (kw + 1) // 2, self.channels], dtype)
        self.bias = Parameter([out_channels], dtype)

    def transform_weight(self, w):
        return s2d_conv_weight(w, self.channels)

    def restore_weight(self, w):
        """The stored weight -> the framework's [out, kh, kw, in] (inverse of transform)."""
        return s2d_conv_weight_inverse(w, self.source_weight_shape[1:3], self.in_channels)

    def forward(self, x):
        _input_channels(type(self).__name__, x, self.in_channels)  # s2d would pad any width
        y = space_to_depth(x, self.padding, self.channels)
        return conv2d(y, self.weight.tensor, self.bias.tensor, activation=Activation.RELU)


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class Linear(Module):
    """y = x @ weight^T + bias, weight [out, in] (same layout as torch)."""

    def __init__(self, in_features, out_features, bias=True, dtype="float16"):
        super().__init__()
        _positive("Linear", in_features=in_features, out_features=out_features)
        self.weight = Parameter([out_features, in_features], dtype)
        if bias:
            self.bias = Parameter([out_features], dtype)

    def forward(self, x):
        b = self.bias.tensor if "bias" in self._parameters else None
        return gemm_rcr(x, self.weight.tensor, b)


class ReLU(Module):
    def forward(self, x):
        return relu(x)


class Reshape(Module):
    def __init__(self, shape=None):
        super().__init__()
        self.shape = shape

    def forward(self, x, shape=None):
        return reshape(x, shape if shape is not None else self.shape)


class Flatten(Module):
    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return flatten(x, self.start_dim, self.end_dim)
