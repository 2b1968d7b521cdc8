"""``Model``: a compiled .so loaded with ctypes (AITemplate's runtime API names).

Two ways in: torch tensors (``run_with_tensors``) or raw device buffers described by
``AITData`` (``run``), which with ``numpy_to_ait_data`` / ``ait_data_to_numpy`` needs no torch
at all. Every input is checked before any kernel runs, and errors name the input and what
was expected.

Threads and streams: one ``Model`` may be called from many threads at once. It holds
``num_runtimes`` execution contexts (each its own activation and kernel workspace, recorded
launches and CUDA graphs) over one copy of the constants; a call takes a free context (or waits
for one), queues its work on the caller's stream after the context's previous work and gives the
context back, so ``sync=False`` stays correct and calls on different streams overlap when
``num_runtimes`` > 1. Setting constants waits for the work queued before it; calls made while a
constant is written wait for it. ``close()`` waits for running calls; later calls raise."""
from __future__ import annotations

import ctypes
import json
import os
import statistics
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from ait.fs import not_a_file
from ait.ir import AitError
from ait.ir.env import OFF_WORDS, ON_WORDS

_NP_DTYPES = {"float16": np.float16, "float32": np.float32}
_SEQUENCES = (list, tuple)
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


def _stream_getter(device_index: int):
    """A function returning the current CUDA stream of the device as an int (torch's raw
    getter where it exists: a few hundred ns instead of a Stream object per call)."""
    torch = _torch()
    raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)
    if raw is not None:
        return lambda: raw(device_index)
    device = torch.device("cuda", device_index)
    return lambda: torch.cuda.current_stream(device).cuda_stream


class _Call:
    """The ctypes arguments of one call signature; `fill` sets this call's pointers."""

    __slots__ = ("ins", "outs", "dims", "stream")

    def __init__(self, ins, outs, dims, stream):
        self.ins, self.outs, self.dims, self.stream = ins, outs, dims, stream

    def fill(self, in_ptrs: list[int], out_ptrs: list[int]) -> None:
        for i, p in enumerate(in_ptrs):
            self.ins[i] = p
        for i, p in enumerate(out_ptrs):
            self.outs[i] = p


# The runtime's on/off switches, AIT_PDL and AIT_WEIGHT_PREFETCH, read once when a model is
# created: model_runtime.h's pdl_from_env and ait_prefetch.h's ait_weight_prefetch_from_env turn
# them off for SWITCH_OFF (tests/test_runtime_host.py and test_weight_prefetch.py check that
# their lists are this one); any value outside SWITCH_VALUES is refused here.
SWITCHES = ("AIT_PDL", "AIT_WEIGHT_PREFETCH")
SWITCH_OFF = OFF_WORDS
SWITCH_VALUES = SWITCH_OFF + ON_WORDS

class Model:
    def __init__(self, lib_path: str | Path, num_runtimes: int = 1):
        """Load a compiled model. ``num_runtimes``: execution contexts (AITemplate's name),
        the number of calls whose GPU work may be in flight at once; each costs one activation
        workspace of device memory (``meta["workspace_bytes"]``)."""
        if isinstance(num_runtimes, bool) or not isinstance(num_runtimes, int) or num_runtimes < 1:
            raise AitError(f"num_runtimes must be a positive integer, got {num_runtimes!r}")
        for var in SWITCHES:
            value = os.environ.get(var)
            if value is not None and value.lower() not in SWITCH_VALUES:
                raise AitError(f"{var} must be 0 or 1 (or false/true, no/yes, off/on), "
                               f"got {value!r}")
        self.lib_path = Path(lib_path)
        why = not_a_file(self.lib_path)
        if why:
            raise AitError(f"compiled model {self.lib_path} {why}")
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
        self._ready = not self._constants
        self._fast = threading.local()  # per thread: signature -> prepared call (see _Call)
        self._device_index = None
        handle = ctypes.c_void_p()
        self._check(self._lib.ait_model_create(ctypes.byref(handle), num_runtimes),
                    "creating the model")
        self._handle = handle
        self.num_runtimes = num_runtimes
        # kernels that wait for their predecessors launch early (programmatic dependent
        # launch, sm_90+); AIT_PDL=0 in the environment before loading turns it off
        self.pdl = bool(self._lib.ait_model_pdl(handle))
        # kernels warm their weights in L2 before that wait; AIT_WEIGHT_PREFETCH=0 turns it off
        self.weight_prefetch = bool(self._lib.ait_model_weight_prefetch(handle))

    # -- plumbing ------------------------------------------------------------------------------
    def _declare(self) -> None:
        L, vp, i64p = self._lib, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int64)
        sigs = {
            "ait_model_create": [ctypes.POINTER(vp), ctypes.c_int],
            "ait_model_close": [vp],
            "ait_model_device": [vp],
            "ait_model_pdl": [vp],
            "ait_model_weight_prefetch": [vp],
            "ait_model_destroy": [vp],
            "ait_model_set_constant": [vp, ctypes.c_char_p, vp, ctypes.c_size_t, ctypes.c_int],
            "ait_model_set_constants": [vp, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p),
                                        ctypes.POINTER(vp), ctypes.POINTER(ctypes.c_size_t),
                                        ctypes.c_int],
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
        missing = [fn for fn in ("ait_last_error", "ait_model_metadata", *sigs)
                   if not hasattr(L, fn)]
        if missing:  # a .so of another ait version: say so, not AttributeError
            raise AitError(f"{self.lib_path} is not a model of this version of ait (it lacks "
                           f"{', '.join(missing)}): rebuild it with this version")
        L.ait_last_error.restype = ctypes.c_char_p
        L.ait_model_metadata.restype = ctypes.c_char_p
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
        """Copy numpy arrays (host) into the model, cast to the model's dtype. All of them are
        written in one step after the runs queued before have finished; runs started meanwhile
        wait, so each run sees all of the old or all of the new values."""
        hosts = {}
        for name, arr in constants.items():
            spec = self._constant_spec(name)
            arr = np.asarray(arr)
            if arr.dtype.kind != "f":  # int/bool/complex/object would change without a word
                raise AitError(f"constant {name!r} is {arr.dtype}; expected real numbers "
                               f"(float16 or float32) for the model's {spec.dtype}")
            if tuple(arr.shape) != spec.max_shape():
                raise AitError(f"constant {name!r} has shape {tuple(arr.shape)}, the model "
                               f"expects {spec.max_shape()}")
            if not np.all(np.isfinite(arr)):
                raise AitError(f"constant {name!r} contains NaN or Inf")
            hosts[name] = np.ascontiguousarray(arr.astype(_NP_DTYPES[spec.dtype], copy=False))
        self._write_constants({n: (h.ctypes.data, h.nbytes) for n, h in hosts.items()}, True)

    def set_many_constants_with_tensors(self, constants: Mapping[str, "object"]) -> None:
        """Copy torch tensors (CUDA or CPU) into the model (one step, as set_many_constants)."""
        torch = _torch()
        by_place: dict[bool, dict] = {True: {}, False: {}}
        keep = []
        for name, t in constants.items():
            spec = self._constant_spec(name)
            if not isinstance(t, torch.Tensor):
                raise AitError(f"constant {name!r}: expected a torch.Tensor, "
                               f"got {type(t).__name__}")
            if tuple(t.shape) != spec.max_shape():
                raise AitError(f"constant {name!r} has shape {tuple(t.shape)}, the model "
                               f"expects {spec.max_shape()}")
            if t.device.type == "cuda" and t.device.index != self.device_index():
                raise AitError(f"constant {name!r} is on {t.device}, the model on "
                               f"cuda:{self.device_index()}")
            t = t.detach().to(getattr(torch, spec.dtype)).contiguous()
            keep.append(t)
            on_host = t.device.type == "cpu"
            if not on_host:  # the model copies on its own stream: the source must be ready
                torch.cuda.current_stream(t.device).synchronize()
            by_place[on_host][name] = (t.data_ptr(), t.numel() * t.element_size())
        for on_host, items in by_place.items():
            if items:
                self._write_constants(items, on_host)

    def _write_constants(self, items: Mapping[str, tuple[int, int]], from_host: bool) -> None:
        n = len(items)
        if not n:
            return
        names = (ctypes.c_char_p * n)(*[k.encode() for k in items])
        ptrs = (ctypes.c_void_p * n)(*[p for p, _ in items.values()])
        sizes = (ctypes.c_size_t * n)(*[b for _, b in items.values()])
        what = (f"setting constant {next(iter(items))!r}" if n == 1 else
                f"setting {n} constants")
        self._check(self._lib.ait_model_set_constants(self._live(), n, names, ptrs, sizes,
                                                      int(from_host)), what)
        self._set.update(items)

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
        self._ready = True

    # -- the per-call fast path ------------------------------------------------------------------
    # A call's full validation runs once per distinct signature (shapes, dtypes, devices,
    # contiguity) and thread; what it yields (ctypes arrays, dims) is kept, and later calls with
    # that signature only refill the pointers. The arrays are per thread, so threads never
    # share one in flight.
    _CALLS_KEPT = 64

    def _calls(self) -> dict:
        calls = getattr(self._fast, "calls", None)
        if calls is None or len(calls) > self._CALLS_KEPT:
            calls = self._fast.calls = {}
        return calls

    @staticmethod
    def _as_lists(inputs, outputs, kind: str) -> tuple[list, list]:
        """The inputs and outputs as lists, or an error that says what a call takes."""
        for what, items in (("inputs", inputs), ("outputs", outputs)):
            if hasattr(items, "data_ptr") or not isinstance(items, Iterable) \
                    or isinstance(items, (str, bytes)):
                raise AitError(f"{what} must be a list of {kind} (or a dict by name), "
                               f"got {type(items).__name__}")
        return list(inputs), list(outputs)

    def _check_counts(self, ins: list, outs: list) -> None:
        if len(ins) != len(self._inputs):
            raise AitError(f"the model takes {len(self._inputs)} input(s) "
                           f"{self.input_names()}, got {len(ins)}")
        if len(outs) != len(self._outputs):
            raise AitError(f"the model has {len(self._outputs)} output(s) "
                           f"{self.output_names()}, got {len(outs)} buffers")

    def _new_call(self, ins: list, outs: list, dims: dict[str, int], stream=None) -> "_Call":
        return _Call(self._ptrs([0] * len(ins)), self._ptrs([0] * len(outs)),
                     self._dims_array(dims), stream)

    # -- running with raw device buffers (no torch) ---------------------------------------------
    def _validate_ait(self, ins: list, outs: list) -> dict[str, int]:
        for spec, d in zip(self._inputs + self._outputs, ins + outs):
            if not isinstance(d, AITData):
                raise AitError(f"{spec.name!r}: expected AITData, got {type(d).__name__}")
            if d.dtype != spec.dtype:
                raise AitError(f"{spec.name!r} has dtype {d.dtype}, expected {spec.dtype}")
        self._check_ready()
        dims = self._bind_dims([d.shape for d in ins])
        self._check_outputs(dims, [d.shape for d in outs])
        return dims

    def _prepare_ait(self, inputs, outputs) -> "_Call":
        if isinstance(inputs, Mapping) or isinstance(outputs, Mapping):
            inputs = self._ordered(inputs, self._inputs, "input")
            outputs = self._ordered(outputs, self._outputs, "output")
        ins, outs = self._as_lists(inputs, outputs, "AITData")
        calls = self._calls()
        try:
            key = (len(ins),) + tuple((type(d), d.shape, d.dtype) for d in ins + outs)
            call = calls.get(key) if self._ready else None
        except (AttributeError, TypeError):
            key, call = None, None
        if call is None:
            self._check_counts(ins, outs)
            call = self._new_call(ins, outs, self._validate_ait(ins, outs))
            if key is not None:
                calls[key] = call
        for spec, d in zip(self._inputs + self._outputs, ins + outs):
            if not d.data_ptr:
                raise AitError(f"{spec.name!r} has a null data pointer")
        call.fill([d.data_ptr for d in ins], [d.data_ptr for d in outs])
        return call

    def run(self, inputs, outputs, graph_mode: bool = False, stream: int | None = None,
            sync: bool = True) -> None:
        """Run on AITData device buffers (lists in input/output order, or dicts by name)."""
        call = self._prepare_ait(inputs, outputs)
        self._check(self._lib.ait_model_run(self._live(), call.ins, call.outs, call.dims,
                                            int(graph_mode), stream, int(sync)), "run")

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
    def device_index(self) -> int:
        """The CUDA device the model's memory lives on (current when it was created)."""
        if self._device_index is None:
            self._device_index = int(self._lib.ait_model_device(self._live()))
        return self._device_index

    def _validate_tensors(self, ins: list, outs: list) -> dict[str, int]:
        torch = _torch()
        device = None
        for spec, t in zip(self._inputs + self._outputs, ins + outs):
            if not isinstance(t, torch.Tensor):
                raise AitError(f"{spec.name!r}: expected a torch.Tensor, got {type(t).__name__}")
            if t.device.type != "cuda":
                raise AitError(f"{spec.name!r} is on {t.device}, expected a CUDA tensor")
            device = device or t.device
            if t.device != device:
                raise AitError(f"{spec.name!r} is on {t.device}, other tensors on {device}")
            if t.device.index != self.device_index():
                raise AitError(f"{spec.name!r} is on {t.device}, the model on "
                               f"cuda:{self.device_index()}")
            if t.dtype != getattr(torch, spec.dtype):
                raise AitError(f"{spec.name!r} has dtype {t.dtype}, expected torch.{spec.dtype}")
            if not t.is_contiguous():
                raise AitError(f"{spec.name!r} is not contiguous (call .contiguous(); for an "
                               "NCHW image use x.permute(0, 2, 3, 1).contiguous())")
        self._check_ready()
        dims = self._bind_dims([t.shape for t in ins])
        self._check_outputs(dims, [t.shape for t in outs])
        return dims

    @staticmethod
    def _tensor_key(ts) -> tuple:
        if len(ts) == 2:  # one input, one output: the common case, spelt out (~0.4 us)
            x, y = ts
            return (x.shape, x.dtype, x.device, x.is_contiguous(),
                    y.shape, y.dtype, y.device, y.is_contiguous())
        return tuple([a for t in ts for a in (t.shape, t.dtype, t.device, t.is_contiguous())])

    def _prepare_tensors(self, inputs, outputs) -> "_Call":
        if not (type(inputs) in _SEQUENCES and type(outputs) in _SEQUENCES) and (
                isinstance(inputs, Mapping) or isinstance(outputs, Mapping)):
            inputs = self._ordered(inputs, self._inputs, "input")
            outputs = self._ordered(outputs, self._outputs, "output")
        try:
            ts = (*inputs, *outputs)
            n = len(inputs)
        except TypeError:
            ts, n = (), -1
        if n < 0 or hasattr(inputs, "data_ptr") or hasattr(outputs, "data_ptr"):
            inputs, outputs = self._as_lists(inputs, outputs, "tensors")
            ts, n = (*inputs, *outputs), len(inputs)
        calls = self._calls()
        try:
            key = (n, *self._tensor_key(ts))
            call = calls.get(key) if self._ready else None
        except (AttributeError, TypeError):
            key, call = None, None
        if call is None:
            ins, outs = list(inputs), list(outputs)
            self._check_counts(ins, outs)
            dims = self._validate_tensors(ins, outs)
            call = self._new_call(ins, outs, dims, _stream_getter(self.device_index()))
            if key is not None:
                calls[key] = call
        if n == 1 and len(ts) == 2:
            call.ins[0] = ts[0].data_ptr()
            call.outs[0] = ts[1].data_ptr()
        else:
            call.fill([t.data_ptr() for t in ts[:n]], [t.data_ptr() for t in ts[n:]])
        return call

    def run_with_tensors(self, inputs, outputs, graph_mode: bool = False, sync: bool = True):
        """Run on torch CUDA tensors (lists in order, or dicts by name) on the current stream;
        returns ``outputs``. With ``sync=False`` the call returns once the work is queued."""
        call = self._prepare_tensors(inputs, outputs)
        rc = self._lib.ait_model_run(self._handle or self._live(), call.ins, call.outs, call.dims,
                                     graph_mode, call.stream(), sync)
        if rc:
            self._check(rc, "run_with_tensors")
        return outputs

    def benchmark_with_tensors(self, inputs, outputs, count: int = 10, repeat: int = 1,
                               graph_mode: bool = False):
        """Time ``repeat`` rounds of ``count`` runs with CUDA events (after warm-up).
        Returns (median ms per run, std of the rounds' ms, outputs)."""
        if count < 1 or repeat < 1:
            raise AitError("count and repeat must be at least 1")
        call = self._prepare_tensors(inputs, outputs)
        ms = (ctypes.c_float * repeat)()
        self._check(self._lib.ait_model_benchmark(self._live(), call.ins, call.outs, call.dims,
                                                  int(graph_mode), call.stream(), count, repeat,
                                                  ms), "benchmark")
        rounds = list(ms)
        std = statistics.pstdev(rounds) if len(rounds) > 1 else 0.0
        return statistics.median(rounds), std, outputs

    def benchmark(self, inputs, outputs, count: int = 10, repeat: int = 1,
                  graph_mode: bool = False) -> tuple[float, float]:
        """benchmark_with_tensors for AITData buffers (no torch)."""
        if count < 1 or repeat < 1:
            raise AitError("count and repeat must be at least 1")
        call = self._prepare_ait(inputs, outputs)
        ms = (ctypes.c_float * repeat)()
        self._check(self._lib.ait_model_benchmark(self._live(), call.ins, call.outs, call.dims,
                                                  int(graph_mode), None, count, repeat, ms),
                    "benchmark")
        rounds = list(ms)
        return statistics.median(rounds), (statistics.pstdev(rounds) if repeat > 1 else 0.0)

    def profile_ops_with_tensors(self, inputs, outputs, count: int = 20) -> list[tuple[str, float]]:
        """Per-op mean time in ms: each op alone, its launches repeated ``count`` times in one
        CUDA graph (so a small op is not bounded by the host's launch rate)."""
        call = self._prepare_tensors(inputs, outputs)
        n = len(self.meta["ops"])
        ms = (ctypes.c_float * n)()
        self._check(self._lib.ait_model_profile_ops(self._live(), call.ins, call.outs, call.dims,
                                                    call.stream(), count, ms), "profile_ops")
        return [(op["name"], ms[i]) for i, op in enumerate(self.meta["ops"])]

    # -- lifetime ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Free the model's device memory once running calls have finished; later calls raise."""
        handle = getattr(self, "_handle", None)
        if handle is not None:
            self._handle = None
            self._lib.ait_model_close(handle)  # waits for calls that hold a context
            self._closed_handle = handle      # freed in __del__: a racing call finds it closed

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        if sys is not None and not sys.is_finalizing():
            try:
                self.close()
                handle = getattr(self, "_closed_handle", None)
                if handle is not None:
                    self._closed_handle = None
                    self._lib.ait_model_destroy(handle)
            except Exception:
                pass
