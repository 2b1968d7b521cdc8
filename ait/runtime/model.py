"""``Model``: a compiled .so loaded with ctypes (AITemplate's runtime API names).

Two ways in: torch tensors (``run_with_tensors``) or raw device buffers described by
``AITData`` (``run``), which with ``numpy_to_ait_data`` / ``ait_data_to_numpy`` needs no torch
at all. Every input is checked before any kernel runs, and errors name the input and what
was expected."""
from __future__ import annotations

import ctypes
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ait.ir import AitError

_NP_DTYPES = {"float16": np.float16, "float32": np.float32}
_H2D, _D2H, _D2D = 0, 1, 2


class AitRuntimeError(AitError, RuntimeError):
    """A call into the compiled model failed; the message comes from the C++ side."""


@dataclass(frozen=True)
class AITData:
    """A device buffer: pointer, shape, dtype (no torch needed)."""

    data_ptr: int
    shape: tuple[int, ...]
    dtype: str = "float16"


@dataclass(frozen=True)
class _Spec:
    name: str
    shape: list  # ints, or {"dim", "lower", "upper"}
    dtype: str

    def expected(self) -> str:
        return "[" + ", ".join(str(d) if isinstance(d, int) else
                               f"{d['dim']}:{d['lower']}..{d['upper']}" for d in self.shape) + "]"

    def max_shape(self) -> tuple[int, ...]:
        return tuple(d if isinstance(d, int) else d["upper"] for d in self.shape)

    def concrete(self, dims: dict[str, int]) -> tuple[int, ...]:
        return tuple(d if isinstance(d, int) else dims[d["dim"]] for d in self.shape)


def _torch():
    import torch  # only the *_with_tensors methods need it

    return torch


class Model:
    def __init__(self, lib_path: str | Path):
        self.lib_path = Path(lib_path)
        if not self.lib_path.is_file():
            raise AitError(f"compiled model {self.lib_path} does not exist")
        try:
            self._lib = ctypes.CDLL(str(self.lib_path))
        except OSError as e:
            raise AitError(f"cannot load {self.lib_path}: {e}") from e
        self._declare()
        self.meta = json.loads(self._lib.ait_model_metadata().decode())
        self._inputs = [_Spec(t["name"], t["shape"], t["dtype"]) for t in self.meta["inputs"]]
        self._outputs = [_Spec(t["name"], t["shape"], t["dtype"]) for t in self.meta["outputs"]]
        self._constants = {t["name"]: _Spec(t["name"], t["shape"], t["dtype"])
                           for t in self.meta["constants"]}
        self._dims = self.meta["dims"]
        self._set: set[str] = set()
        handle = ctypes.c_void_p()
        self._check(self._lib.ait_model_create(ctypes.byref(handle)), "creating the model")
        self._handle = handle

    # -- plumbing ------------------------------------------------------------------------------
    def _declare(self) -> None:
        L, vp, i64p = self._lib, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int64)
        L.ait_last_error.restype = ctypes.c_char_p
        L.ait_model_metadata.restype = ctypes.c_char_p
        sigs = {
            "ait_model_create": [ctypes.POINTER(vp)],
            "ait_model_destroy": [vp],
            "ait_model_set_constant": [vp, ctypes.c_char_p, vp, ctypes.c_size_t, ctypes.c_int],
            "ait_model_fold_constants": [vp],
            "ait_model_run": [vp, ctypes.POINTER(vp), ctypes.POINTER(vp), i64p, ctypes.c_int, vp,
                              ctypes.c_int],
            "ait_model_benchmark": [vp, ctypes.POINTER(vp), ctypes.POINTER(vp), i64p, ctypes.c_int,
                                    vp, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_float)],
            "ait_model_profile_ops": [vp, ctypes.POINTER(vp), ctypes.POINTER(vp), i64p, vp,
                                      ctypes.c_int, ctypes.POINTER(ctypes.c_float)],
            "ait_device_malloc": [ctypes.POINTER(vp), ctypes.c_size_t],
            "ait_device_free": [vp],
            "ait_memcpy": [vp, vp, ctypes.c_size_t, ctypes.c_int],
            "ait_device_synchronize": [],
        }
        for fn, args in sigs.items():
            getattr(L, fn).argtypes = args
            getattr(L, fn).restype = ctypes.c_int

    def _check(self, rc: int, what: str) -> None:
        if rc != 0:
            msg = self._lib.ait_last_error().decode(errors="replace")
            raise AitRuntimeError(f"{what} failed: {msg}")

    def _live(self):
        if getattr(self, "_handle", None) is None:
            raise AitError("the model is closed")
        return self._handle

    # -- names and shapes ----------------------------------------------------------------------
    def input_names(self) -> list[str]:
        return [s.name for s in self._inputs]

    def output_names(self) -> list[str]:
        return [s.name for s in self._outputs]

    def constant_names(self) -> list[str]:
        return list(self._constants)

    def _index(self, specs: list[_Spec], key: int | str, what: str) -> int:
        if isinstance(key, int):
            if not 0 <= key < len(specs):
                raise AitError(f"{what} index {key} out of range (the model has {len(specs)})")
            return key
        names = [s.name for s in specs]
        if key not in names:
            raise AitError(f"no {what} named {key!r}; the model's {what}s are {names}")
        return names.index(key)

    def get_output_maximum_shape(self, output: int | str = 0) -> tuple[int, ...]:
        return self._outputs[self._index(self._outputs, output, "output")].max_shape()

    def get_input_maximum_shape(self, inp: int | str = 0) -> tuple[int, ...]:
        return self._inputs[self._index(self._inputs, inp, "input")].max_shape()

    def output_shapes_for(self, input_shapes: Sequence[Sequence[int]]) -> list[tuple[int, ...]]:
        dims = self._bind_dims(list(input_shapes))
        return [s.concrete(dims) for s in self._outputs]

    # -- constants -----------------------------------------------------------------------------
    def _constant_spec(self, name: str) -> _Spec:
        if name not in self._constants:
            close = [c for c in self._constants if name.split("_")[0] in c][:3]
            raise AitError(f"the model has no constant {name!r}" +
                           (f" (similar: {close})" if close else ""))
        return self._constants[name]

    def set_many_constants(self, constants: Mapping[str, np.ndarray]) -> None:
        """Copy numpy arrays (host) into the model; cast to the model's dtype."""
        for name, arr in constants.items():
            spec = self._constant_spec(name)
            arr = np.asarray(arr)
            if tuple(arr.shape) != spec.max_shape():
                raise AitError(f"constant {name!r} has shape {tuple(arr.shape)}, the model "
                               f"expects {spec.max_shape()}")
            if not np.all(np.isfinite(arr)):
                raise AitError(f"constant {name!r} contains NaN or Inf")
            host = np.ascontiguousarray(arr.astype(_NP_DTYPES[spec.dtype], copy=False))
            self._check(self._lib.ait_model_set_constant(
                self._live(), name.encode(), host.ctypes.data, host.nbytes, 1),
                f"setting constant {name!r}")
            self._set.add(name)

    def set_many_constants_with_tensors(self, constants: Mapping[str, "object"]) -> None:
        """Copy torch tensors (CUDA or CPU) into the model."""
        torch = _torch()
        for name, t in constants.items():
            spec = self._constant_spec(name)
            if not isinstance(t, torch.Tensor):
                raise AitError(f"constant {name!r}: expected a torch.Tensor, "
                               f"got {type(t).__name__}")
            if tuple(t.shape) != spec.max_shape():
                raise AitError(f"constant {name!r} has shape {tuple(t.shape)}, the model "
                               f"expects {spec.max_shape()}")
            t = t.detach().to(getattr(torch, spec.dtype)).contiguous()
            on_host = t.device.type == "cpu"
            self._check(self._lib.ait_model_set_constant(
                self._live(), name.encode(), t.data_ptr(), t.numel() * t.element_size(),
                int(on_host)), f"setting constant {name!r}")
            if not on_host:
                torch.cuda.synchronize(t.device)
            self._set.add(name)

    def fold_constants(self) -> None:
        missing = [n for n in self._constants if n not in self._set]
        if missing:
            raise AitError(f"{len(missing)} constant(s) were never set, first {missing[0]!r} "
                           f"{self._constants[missing[0]].max_shape()}")
        self._check(self._lib.ait_model_fold_constants(self._live()), "fold_constants")

    # -- checks ---------------------------------------------------------------------------------
    def _bind_dims(self, shapes: list[Sequence[int]]) -> dict[str, int]:
        if len(shapes) != len(self._inputs):
            raise AitError(f"the model takes {len(self._inputs)} input(s) "
                           f"{self.input_names()}, got {len(shapes)}")
        dims: dict[str, int] = {}
        for spec, shape in zip(self._inputs, shapes):
            shape = tuple(int(s) for s in shape)
            if len(shape) != len(spec.shape):
                raise AitError(f"input {spec.name!r} has shape {shape} (rank {len(shape)}), "
                               f"expected {spec.expected()}")
            for i, (d, v) in enumerate(zip(spec.shape, shape)):
                if isinstance(d, int):
                    if d != v:
                        raise AitError(f"input {spec.name!r} has shape {shape}, expected "
                                       f"{spec.expected()} (dim {i} must be {d})")
                    continue
                if not d["lower"] <= v <= d["upper"]:
                    raise AitError(f"input {spec.name!r}: dim {i} ({d['dim']}) is {v}, outside "
                                   f"the compiled range {d['lower']}..{d['upper']}")
                if dims.setdefault(d["dim"], v) != v:
                    raise AitError(f"input {spec.name!r}: dim {i} ({d['dim']}) is {v}, but "
                                   f"another input set it to {dims[d['dim']]}")
        return dims

    def _check_outputs(self, dims: dict[str, int], shapes: list[Sequence[int]]) -> None:
        if len(shapes) != len(self._outputs):
            raise AitError(f"the model has {len(self._outputs)} output(s) "
                           f"{self.output_names()}, got {len(shapes)} buffers")
        for spec, shape in zip(self._outputs, shapes):
            want = spec.concrete(dims)
            if tuple(int(s) for s in shape) != want:
                raise AitError(f"output {spec.name!r} buffer has shape {tuple(shape)}, expected "
                               f"{want} for these inputs")

    @staticmethod
    def _ordered(items, specs: list[_Spec], what: str) -> list:
        if isinstance(items, Mapping):
            names = [s.name for s in specs]
            extra = set(items) - set(names)
            if extra:
                raise AitError(f"unknown {what}(s) {sorted(extra)}; expected {names}")
            missing = [n for n in names if n not in items]
            if missing:
                raise AitError(f"{what} {missing[0]!r} was not given")
            return [items[n] for n in names]
        return list(items)

    def _dims_array(self, dims: dict[str, int]):
        arr = (ctypes.c_int64 * max(1, len(self._dims)))()
        for i, d in enumerate(self._dims):
            arr[i] = dims[d["name"]]
        return arr

    @staticmethod
    def _ptrs(values: list[int]):
        return (ctypes.c_void_p * max(1, len(values)))(*values)

    def _check_ready(self) -> None:
        missing = [n for n in self._constants if n not in self._set]
        if missing:
            raise AitError(f"{len(missing)} constant(s) were never set, first {missing[0]!r}; "
                           "call set_many_constants(...) first")

    # -- running with raw device buffers (no torch) ---------------------------------------------
    def _prepare_ait(self, inputs, outputs):
        ins = self._ordered(inputs, self._inputs, "input")
        outs = self._ordered(outputs, self._outputs, "output")
        for spec, d in zip(self._inputs + self._outputs, ins + outs):
            if not isinstance(d, AITData):
                raise AitError(f"{spec.name!r}: expected AITData, got {type(d).__name__}")
            if d.dtype != spec.dtype:
                raise AitError(f"{spec.name!r} has dtype {d.dtype}, expected {spec.dtype}")
            if not d.data_ptr:
                raise AitError(f"{spec.name!r} has a null data pointer")
        self._check_ready()
        dims = self._bind_dims([d.shape for d in ins])
        self._check_outputs(dims, [d.shape for d in outs])
        return (self._ptrs([d.data_ptr for d in ins]), self._ptrs([d.data_ptr for d in outs]),
                self._dims_array(dims))

    def run(self, inputs, outputs, graph_mode: bool = False, stream: int | None = None,
            sync: bool = True) -> None:
        """Run on AITData device buffers (lists in input/output order, or dicts by name)."""
        ins, outs, dims = self._prepare_ait(inputs, outputs)
        self._check(self._lib.ait_model_run(self._live(), ins, outs, dims, int(graph_mode),
                                            stream, int(sync)), "run")

    def allocate_ait_data(self, shape: Sequence[int], dtype: str = "float16") -> AITData:
        nbytes = int(np.prod(shape)) * np.dtype(_NP_DTYPES[dtype]).itemsize
        ptr = ctypes.c_void_p()
        self._check(self._lib.ait_device_malloc(ctypes.byref(ptr), max(nbytes, 1)),
                    f"allocating {nbytes} bytes")
        return AITData(ptr.value, tuple(int(s) for s in shape), dtype)

    def free_ait_data(self, data: AITData) -> None:
        self._check(self._lib.ait_device_free(data.data_ptr), "freeing device memory")

    def numpy_to_ait_data(self, arr: np.ndarray, dtype: str = "float16") -> AITData:
        host = np.ascontiguousarray(np.asarray(arr).astype(_NP_DTYPES[dtype], copy=False))
        data = self.allocate_ait_data(host.shape, dtype)
        self._check(self._lib.ait_memcpy(data.data_ptr, host.ctypes.data, host.nbytes, _H2D),
                    "copying to the device")
        return data

    def ait_data_to_numpy(self, data: AITData) -> np.ndarray:
        host = np.empty(data.shape, dtype=_NP_DTYPES[data.dtype])
        self._check(self._lib.ait_memcpy(host.ctypes.data, data.data_ptr, host.nbytes, _D2H),
                    "copying to the host")
        return host

    # -- running with torch tensors -------------------------------------------------------------
    def _prepare_tensors(self, inputs, outputs):
        torch = _torch()
        ins = self._ordered(inputs, self._inputs, "input")
        outs = self._ordered(outputs, self._outputs, "output")
        device = None
        for spec, t in zip(self._inputs + self._outputs, ins + outs):
            if not isinstance(t, torch.Tensor):
                raise AitError(f"{spec.name!r}: expected a torch.Tensor, got {type(t).__name__}")
            if t.device.type != "cuda":
                raise AitError(f"{spec.name!r} is on {t.device}, expected a CUDA tensor")
            device = device or t.device
            if t.device != device:
                raise AitError(f"{spec.name!r} is on {t.device}, other tensors on {device}")
            if t.dtype != getattr(torch, spec.dtype):
                raise AitError(f"{spec.name!r} has dtype {t.dtype}, expected torch.{spec.dtype}")
            if not t.is_contiguous():
                raise AitError(f"{spec.name!r} is not contiguous (call .contiguous(); for an "
                               "NCHW image use x.permute(0, 2, 3, 1).contiguous())")
        self._check_ready()
        dims = self._bind_dims([t.shape for t in ins])
        self._check_outputs(dims, [t.shape for t in outs])
        stream = torch.cuda.current_stream(device).cuda_stream
        return (self._ptrs([t.data_ptr() for t in ins]), self._ptrs([t.data_ptr() for t in outs]),
                self._dims_array(dims), stream, outs)

    def run_with_tensors(self, inputs, outputs, graph_mode: bool = False, sync: bool = True):
        """Run on torch CUDA tensors (lists in order, or dicts by name); returns ``outputs``."""
        ins, outs, dims, stream, out_list = self._prepare_tensors(inputs, outputs)
        self._check(self._lib.ait_model_run(self._live(), ins, outs, dims, int(graph_mode),
                                            stream, int(sync)), "run_with_tensors")
        return outputs

    def benchmark_with_tensors(self, inputs, outputs, count: int = 10, repeat: int = 1,
                               graph_mode: bool = False):
        """Time ``repeat`` rounds of ``count`` runs with CUDA events (after warm-up).
        Returns (median ms per run, std of the rounds' ms, outputs)."""
        if count < 1 or repeat < 1:
            raise AitError("count and repeat must be at least 1")
        ins, outs, dims, stream, _ = self._prepare_tensors(inputs, outputs)
        ms = (ctypes.c_float * repeat)()
        self._check(self._lib.ait_model_benchmark(self._live(), ins, outs, dims, int(graph_mode),
                                                  stream, count, repeat, ms), "benchmark")
        rounds = list(ms)
        std = statistics.pstdev(rounds) if len(rounds) > 1 else 0.0
        return statistics.median(rounds), std, outputs

    def benchmark(self, inputs, outputs, count: int = 10, repeat: int = 1,
                  graph_mode: bool = False) -> tuple[float, float]:
        """benchmark_with_tensors for AITData buffers (no torch)."""
        ins, outs, dims = self._prepare_ait(inputs, outputs)
        ms = (ctypes.c_float * repeat)()
        self._check(self._lib.ait_model_benchmark(self._live(), ins, outs, dims, int(graph_mode),
                                                  None, count, repeat, ms), "benchmark")
        rounds = list(ms)
        return statistics.median(rounds), (statistics.pstdev(rounds) if repeat > 1 else 0.0)

    def profile_ops_with_tensors(self, inputs, outputs, count: int = 20) -> list[tuple[str, float]]:
        """Per-op mean time in ms (each op replayed alone, eager)."""
        ins, outs, dims, stream, _ = self._prepare_tensors(inputs, outputs)
        n = len(self.meta["ops"])
        ms = (ctypes.c_float * n)()
        self._check(self._lib.ait_model_profile_ops(self._live(), ins, outs, dims, stream, count,
                                                    ms), "profile_ops")
        return [(op["name"], ms[i]) for i, op in enumerate(self.meta["ops"])]

    # -- lifetime ---------------------------------------------------------------------------------
    def close(self) -> None:
        if getattr(self, "_handle", None) is not None:
            self._lib.ait_model_destroy(self._handle)
            self._handle = None

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        if sys is not None and not sys.is_finalizing():
            try:
                self.close()
            except Exception:
                pass
