"""The serving logic of serve_resnet.py in plain Python (no Ray): decoding a request body into
images, running a gathered batch of requests as one call of the model, top-k as JSON.

Ray Serve calls ``BatchHandler.decode`` for each HTTP request and ``BatchHandler.run_batch``
for each batch that ``@serve.batch`` gathered; tests call the same two methods directly.

Backends (``make_backend``):
- ``reference``: the numpy reference executor in fp32 (CPU; what CI serves).
- ``gpu``: the compiled dynamic-batch .so (``ait.Model``), fp16 on the GPU.

Errors a client caused raise ``RequestError`` (4xx); a failing model call answers 5xx to the
requests of that batch only, and the handler keeps serving.
"""
from __future__ import annotations

import contextlib
import inspect
import io
import math
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

IMAGE_TYPES = ("image/jpeg", "image/jpg", "image/png")
ARRAY_TYPES = ("application/x-npy", "application/octet-stream")
MAX_BODY_BYTES = 64 << 20


class RequestError(Exception):
    """A bad request: ``status`` (4xx) and a one-line reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(one_line(reason))
        self.status = status


def one_line(text: Any, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


# -- backends ------------------------------------------------------------------------------------
@dataclass
class ServeConfig:
    """What a replica needs to build its model (plain data: Ray ships it to each replica)."""

    model: str = "resnet50"
    weights: str | None = None       # .npz / .safetensors from weight_utils.py; None: random
    backend: str = "gpu"             # "gpu" or "reference"
    max_batch: int = 32              # images in one model call
    batch_wait_ms: float = 5.0
    image_size: int = 224
    num_classes: int = 1000          # when no weights file says otherwise
    lib: str | None = None           # a compiled .so (gpu); None: compile (or reuse) in workdir
    workdir: str = "./tmp"
    num_runtimes: int = 2            # execution contexts per replica (gpu), batches in flight
    seed: int = 0                    # random weights when no file is given
    default_top: int = 5             # classes per image unless the request says
    graph_mode: bool = True          # gpu: replay CUDA graphs (one per batch size met)

    @property
    def batches_in_flight(self) -> int:
        return max(1, self.num_runtimes) if self.backend == "gpu" else 1


def _weights_for(cfg: ServeConfig, dtype: str) -> tuple[dict[str, np.ndarray], int]:
    """(constants, num_classes): from cfg.weights, or random (fixed seed) without one."""
    from modeling.resnet import create_resnet
    from weight_utils import load_weights

    if cfg.weights:
        raw = load_weights(cfg.weights)
        fc = raw.get("fc_weight")
        num_classes = int(fc.shape[0]) if fc is not None else cfg.num_classes
        return load_weights(cfg.weights, create_resnet(cfg.model, num_classes, dtype=dtype),
                            dtype), num_classes
    return random_weights(cfg.model, cfg.num_classes, dtype, cfg.seed), cfg.num_classes


def check_files(cfg: ServeConfig) -> None:
    """The files a config names, checked where the server starts, before Ray does (a replica
    would fail on them later, deep in Ray's logs): the weights file loads and fits the model,
    the --lib .so is a whole ELF file. An AitError names the one that does not."""
    from ait import AitError, fs

    if cfg.weights:
        _weights_for(cfg, "float16")
    if cfg.lib and (why := fs.not_a_file(cfg.lib) or fs.elf_problem(cfg.lib)) is not None:
        raise AitError(f"--lib {cfg.lib} {why}; expected a compiled model .so")


def random_weights(model: str, num_classes: int, dtype: str = "float32",
                   seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic random constants for ``model`` with no torch (He-scaled weights, small
    biases): a server that has no weights file still answers with something to check."""
    from modeling.resnet import create_resnet
    from weight_utils import expected_shapes

    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in sorted(expected_shapes(create_resnet(model, num_classes)).items()):
        if name.endswith("_bias"):
            arr = rng.standard_normal(shape) * 0.01
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            arr = rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)
        out[name] = arr.astype(dtype)
    return out


class ReferenceBackend:
    """The numpy reference executor (fp32, CPU) on the same graph the GPU model is built from."""

    name = "reference"

    def __init__(self, cfg: ServeConfig, params: dict[str, np.ndarray] | None = None,
                 num_classes: int | None = None):
        import ait
        from modeling.resnet import build_resnet_graph

        if params is None:
            params, num_classes = _weights_for(cfg, "float32")
        self.num_classes = num_classes or cfg.num_classes
        self.model_name = cfg.model
        self.image_size = cfg.image_size
        self.max_batch = cfg.max_batch
        _, y = build_resnet_graph(cfg.model, (1, cfg.max_batch), cfg.image_size,
                                  self.num_classes, dtype="float32")
        self.graph = ait.build_graph(y)
        self.params = params

    def __call__(self, x: np.ndarray) -> np.ndarray:
        import ait

        return ait.run_reference(self.graph, {"input0": x}, self.params)["output0"]


def _open_model(lib_path, num_runtimes: int):
    """(``ait.Model``, whether it may be called from several threads at once): with
    ``num_runtimes`` execution contexts where the constructor has them."""
    import ait

    if "num_runtimes" in inspect.signature(ait.Model).parameters:
        return ait.Model(lib_path, num_runtimes=num_runtimes), True
    return ait.Model(lib_path), False


class GpuBackend:
    """The compiled dynamic-batch model on this process's GPU (fp16 in, fp16 out). Runs
    through torch CUDA tensors (graph mode) where torch is installed, else through AITData."""

    name = "gpu"

    def __init__(self, cfg: ServeConfig):
        self.model_name = cfg.model
        lib = cfg.lib or self._compile(cfg)
        self.model, shared = _open_model(lib, cfg.num_runtimes)
        # a Model of one context runs one batch at a time; Ray may hand over several
        self._serial = contextlib.nullcontext() if shared else threading.Lock()
        self._local = threading.local()
        self.graph_mode = cfg.graph_mode
        spec = self.model.meta["inputs"][0]["shape"]
        batch, h, _, _ = spec
        hi = batch["upper"] if isinstance(batch, dict) else batch
        if cfg.max_batch > hi:
            raise ValueError(f"--max-batch {cfg.max_batch} is larger than the compiled model "
                             f"serves ({lib}: batch up to {hi})")
        self.max_batch, self.image_size = cfg.max_batch, int(h)
        self.num_classes = int(self.model.get_output_maximum_shape(0)[-1])
        cfg = replace(cfg, num_classes=self.num_classes)
        params, _ = _weights_for(cfg, "float16")
        self.model.set_many_constants(params)
        self.model.fold_constants()
        try:
            import torch

            self.torch = torch if torch.cuda.is_available() else None
        except ImportError:
            self.torch = None

    @staticmethod
    def _compile(cfg: ServeConfig) -> str:
        """Compile (or re-link from the object cache) under a file lock, so that replicas
        sharing a machine and a workdir do not build the same .so at once."""
        import fcntl

        from modeling.build import compile_resnet

        Path(cfg.workdir).mkdir(parents=True, exist_ok=True)
        with open(Path(cfg.workdir) / ".serve-compile.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            m = compile_resnet(cfg.model, (1, cfg.max_batch), cfg.workdir,
                               num_classes=cfg.num_classes, image_size=cfg.image_size)
            path = str(m.lib_path)
            m.close()
        return path

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with self._serial:
            return self._run(x)

    def _run(self, x: np.ndarray) -> np.ndarray:
        if self.torch is not None:
            torch = self.torch
            stream = getattr(self._local, "stream", None)
            if stream is None:  # one stream per thread: batches in flight overlap
                stream = self._local.stream = torch.cuda.Stream()
            with torch.cuda.stream(stream):
                xin = torch.from_numpy(x).to("cuda").to(torch.float16).contiguous()
                y = torch.empty(x.shape[0], self.num_classes, dtype=torch.float16,
                                device="cuda")
                self.model.run_with_tensors([xin], [y], graph_mode=self.graph_mode)
                return y.float().cpu().numpy()
        xin = self.model.numpy_to_ait_data(x)
        out = None
        try:
            out = self.model.allocate_ait_data(self.model.output_shapes_for([x.shape])[0])
            self.model.run([xin], [out])
            return self.model.ait_data_to_numpy(out).astype(np.float32)
        finally:
            self.model.free_ait_data(xin)
            if out is not None:
                self.model.free_ait_data(out)


def make_backend(cfg: ServeConfig):
    if cfg.backend == "reference":
        return ReferenceBackend(cfg)
    if cfg.backend == "gpu":
        return GpuBackend(cfg)
    raise ValueError(f"unknown backend {cfg.backend!r}; choose gpu or reference")


# -- requests ------------------------------------------------------------------------------------
@dataclass
class Item:
    """One decoded request: ``images`` [k, H, W, 3] float32, and how many classes to return."""

    images: np.ndarray
    top: int = 5

    @property
    def count(self) -> int:
        return int(self.images.shape[0])


@dataclass
class Reply:
    status: int
    body: dict


def item_count(items: Sequence[Item]) -> int:
    """Images in a list of requests: what ``@serve.batch``'s ``batch_size_fn`` counts, so a
    gathered batch never holds more images than the model serves."""
    return sum(i.count for i in items)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def top_k(logits: np.ndarray, k: int) -> list[dict]:
    """[{"classes": [...], "probs": [...]}] for each row of ``logits``."""
    probs = softmax(logits.astype(np.float64))
    out = []
    for row in probs:
        order = np.argsort(-row, kind="stable")[:k]
        out.append({"classes": [int(c) for c in order],
                    "probs": [float(row[c]) for c in order]})
    return out


class BatchHandler:
    """Decode requests, run a batch of them as ONE model call, answer each. The backend is
    any callable [N, H, W, 3] float32 -> [N, classes] logits with ``max_batch``,
    ``image_size``, ``num_classes`` and ``name``."""

    def __init__(self, backend, default_top: int = 5):
        self.backend = backend
        self.max_batch = int(backend.max_batch)
        self.image_size = int(backend.image_size)
        self.num_classes = int(backend.num_classes)
        self.default_top = min(default_top, self.num_classes)
        self._lock = threading.Lock()
        self.batches = 0          # model calls made (for tests and /stats)
        self.failures = 0

    # -- one request -----------------------------------------------------------------------------
    def decode(self, body: bytes, content_type: str | None, top: str | int | None = None) -> Item:
        """The request as an ``Item``, or ``RequestError`` (4xx) with the reason."""
        k = self._top(top)
        if not body:
            raise RequestError(400, "empty body: send a JPEG/PNG image or an .npy array")
        if len(body) > MAX_BODY_BYTES:
            raise RequestError(413, f"body of {len(body)} bytes is over the limit of "
                                    f"{MAX_BODY_BYTES} bytes")
        ctype = (content_type or "").split(";")[0].strip().lower()
        if ctype in IMAGE_TYPES:
            x = self._decode_image(body)[None]
        elif ctype in ARRAY_TYPES:
            x = self._decode_array(body)
        else:
            raise RequestError(415, f"unsupported content type {ctype or '(none)'!r}: send "
                                    f"image/jpeg, image/png or application/x-npy")
        return Item(x, k)

    def _top(self, top) -> int:
        if top is None or top == "":
            return self.default_top
        try:
            k = int(top)
        except (TypeError, ValueError):
            k = 0
        if not 1 <= k <= self.num_classes:
            raise RequestError(400, f"top={top!r}: expected a whole number from 1 to "
                                    f"{self.num_classes}")
        return k

    def _decode_image(self, body: bytes) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        from modeling.images import preprocess

        try:
            with Image.open(io.BytesIO(body)) as im:
                fmt = im.format
        except UnidentifiedImageError:
            raise RequestError(400, "not an image: the body is not a JPEG or PNG file") from None
        except Exception as e:  # noqa: BLE001 - any decoder failure is the client's image
            raise RequestError(400, f"cannot read the image: {e}") from None
        if fmt not in ("JPEG", "PNG"):
            raise RequestError(415, f"image format {fmt} is not served: send JPEG or PNG")
        try:
            return preprocess(io.BytesIO(body), self.image_size)
        except Exception as e:  # noqa: BLE001 - truncated or corrupt data
            raise RequestError(400, f"cannot decode the {fmt} image (truncated or corrupt): "
                                    f"{e}") from None

    def _decode_array(self, body: bytes) -> np.ndarray:
        from ait import fs

        if fs.array_format(body[:16]) != "npy":  # numpy would call it "pickled data"
            raise RequestError(400, "the body " + fs.not_this_format(
                body[:16], "one .npy array (np.save) for application/x-npy"))
        try:
            x = np.load(io.BytesIO(body), allow_pickle=False)
        except Exception as e:  # noqa: BLE001 - not an .npy file, or cut short
            raise RequestError(400, f"not a readable .npy array: {e}") from None
        if x.dtype.kind != "f" or x.dtype.itemsize > 8:
            raise RequestError(400, f"array dtype is {x.dtype}, expected float32 (or float16 / "
                                    f"float64)")
        s = self.image_size
        if x.ndim == 3:
            x = x[None]
        if x.ndim != 4 or x.shape[1:] != (s, s, 3):
            raise RequestError(400, f"array shape is {x.shape}, expected [N, {s}, {s}, 3] or "
                                    f"[{s}, {s}, 3] (NHWC, normalised)")
        if x.shape[0] < 1:
            raise RequestError(400, "array holds no image (N = 0)")
        if x.shape[0] > self.max_batch:
            raise RequestError(413, f"a batch of {x.shape[0]} images is larger than the model "
                                    f"serves ({self.max_batch})")
        x = x.astype(np.float32)
        if not np.isfinite(x).all():
            raise RequestError(400, "array contains NaN or Inf")
        return x

    # -- a gathered batch ------------------------------------------------------------------------
    def run_batch(self, items: Sequence[Item]) -> list[Reply]:
        """Run every request's images as one model call; one reply per request, in order."""
        n = item_count(items)
        meta = {"batch_size": n, "batch_requests": len(items), "backend": self.backend.name}
        try:
            if n > self.max_batch:  # batch_size_fn keeps Ray from gathering this
                raise RuntimeError(f"gathered {n} images, over the model's {self.max_batch}")
            x = np.concatenate([i.images for i in items]) if len(items) > 1 else items[0].images
            logits = np.asarray(self.backend(np.ascontiguousarray(x, np.float32)))
            if logits.shape != (n, self.num_classes):
                raise RuntimeError(f"the model returned shape {logits.shape}, expected "
                                   f"{(n, self.num_classes)}")
        except Exception as e:  # noqa: BLE001 - the model failed: 5xx for this batch, keep serving
            with self._lock:
                self.failures += 1
            reason = one_line(f"model call failed: {type(e).__name__}: {e}")
            return [Reply(500, {"error": reason, **meta}) for _ in items]
        with self._lock:
            self.batches += 1
        replies, start = [], 0
        for item in items:
            rows = logits[start:start + item.count]
            start += item.count
            if not np.isfinite(rows).all():
                replies.append(Reply(500, {"error": "model call failed: non-finite logits "
                                                    "(input out of the model's range?)", **meta}))
                continue
            replies.append(Reply(200, {"predictions": top_k(rows, item.top), **meta}))
        return replies

    def info(self) -> dict:
        return {"model": getattr(self.backend, "model_name", None),
                "backend": self.backend.name, "max_batch": self.max_batch,
                "image_size": self.image_size, "num_classes": self.num_classes,
                "batches": self.batches, "failures": self.failures}
