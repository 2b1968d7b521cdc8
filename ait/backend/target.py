"""What the kernels are built for: CUDA arch, accumulation type, the nvcc to use, CUTLASS headers.

The GPU is identified by compute capability (queried from the driver with ctypes, or from
`nvidia-smi`), never by its name, and never through torch.
"""
from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

from ait.backend import cutlass_lib
from ait.ir.errors import AitError

SUPPORTED_ARCHS = (80, 90)
_NVCC_WHEEL_HINT = 'pip install "cuda-toolkit[nvcc,cccl]==13.0.3"'


class TargetError(AitError, RuntimeError):
    """The machine cannot build or run ait kernels; the message says what is missing."""


class NvccNotFoundError(TargetError):
    pass


class NoGpuError(TargetError):
    pass


class UnsupportedGpuError(TargetError):
    pass


@dataclass(frozen=True)
class Target:
    arch: int                      # 80 (Ampere-style kernels) or 90 (adds Hopper 3.x kernels)
    use_fp16_acc: bool = False     # accumulate in fp16 (faster on 2.x, less accurate)
    nvcc: str | None = None        # absolute path; None: render-only target (no compiler)
    include_dirs: tuple[str, ...] = ()
    cutlass_version: str = ""

    @classmethod
    def for_arch(cls, arch: int, *, use_fp16_acc: bool = False, nvcc: str | None = None) -> Target:
        """A target for building without a GPU. Without an nvcc the target can still render
        kernels; compiling with it raises NvccNotFoundError."""
        if arch not in SUPPORTED_ARCHS:
            raise UnsupportedGpuError(
                f"arch {arch} is not supported; ait builds for {SUPPORTED_ARCHS}")
        nvcc_path = nvcc or _find_nvcc_or_none()
        includes = cutlass_lib.include_dirs() + _toolkit_includes(nvcc_path)
        return cls(arch, use_fp16_acc, nvcc_path, includes, cutlass_lib.version())

    @property
    def acc(self) -> str:
        """Accumulator tag used in kernel names and cache keys."""
        return "f16" if self.use_fp16_acc else "f32"

    def gencode(self) -> list[str]:
        # Hopper 3.x kernels need the arch-specific 90a target: plain sm_90 silently builds
        # an empty kernel. sm_80 also embeds PTX so newer GPUs can JIT the Ampere kernels.
        if self.arch == 90:
            return ["-gencode", "arch=compute_90a,code=sm_90a"]
        return ["-gencode", "arch=compute_80,code=[sm_80,compute_80]"]

    def require_nvcc(self) -> str:
        if self.nvcc is None:
            raise NvccNotFoundError(_nvcc_missing_message())
        return self.nvcc


def detect_target(*, use_fp16_acc: bool = False, nvcc: str | None = None) -> Target:
    """Target for the first visible GPU, chosen by compute capability; with ``AIT_ARCH=90``
    (or 80) set, for that arch without asking any GPU (to build on a machine without one,
    with ``AIT_FIXED_KERNEL=first``: profiling needs the GPU)."""
    if arch_env := os.environ.get("AIT_ARCH", "").strip():
        if arch_env not in {str(a) for a in SUPPORTED_ARCHS}:
            raise UnsupportedGpuError(f"AIT_ARCH={arch_env!r}: expected one of "
                                      f"{', '.join(map(str, SUPPORTED_ARCHS))}")
        nvcc_path = nvcc or _find_nvcc_or_none()
        if nvcc_path is None:
            raise NvccNotFoundError(_nvcc_missing_message())
        return Target.for_arch(int(arch_env), use_fp16_acc=use_fp16_acc, nvcc=nvcc_path)
    cc = gpu_compute_capabilities()
    major, minor = cc[0]
    if len(set(cc)) > 1:
        warnings.warn(f"GPUs of different compute capabilities are visible ({cc}); "
                      f"building for the first one ({major}.{minor})", stacklevel=2)
    if major < 8:
        raise UnsupportedGpuError(
            f"the visible GPU has compute capability {major}.{minor}; ait's kernels need 8.0 or "
            "newer (Ampere, Hopper). Select another GPU with CUDA_VISIBLE_DEVICES."
        )
    if major == 9:
        arch = 90
    else:
        arch = 80
        if major > 9:
            warnings.warn(f"compute capability {major}.{minor} has no native ait kernels; using "
                          "sm_80 kernels through PTX JIT", stacklevel=2)
    nvcc_path = nvcc or _find_nvcc_or_none()
    if nvcc_path is None:
        raise NvccNotFoundError(_nvcc_missing_message())
    return Target.for_arch(arch, use_fp16_acc=use_fp16_acc, nvcc=nvcc_path)


# -- GPU discovery --------------------------------------------------------------------------

_CU_ATTR_CC_MAJOR = 75
_CU_ATTR_CC_MINOR = 76


def gpu_compute_capabilities() -> list[tuple[int, int]]:
    """(major, minor) of every GPU visible to this process (honours CUDA_VISIBLE_DEVICES)."""
    caps, driver_err = _cc_from_driver()
    if caps:
        return caps
    caps, smi_err = _cc_from_nvidia_smi()
    if caps:
        return caps
    raise NoGpuError(
        "no CUDA GPU is visible to this process "
        f"(CUDA driver: {driver_err}; nvidia-smi: {smi_err}; "
        f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}). "
        "Check the NVIDIA driver and CUDA_VISIBLE_DEVICES; to build without a GPU set "
        "AIT_ARCH=90 (or 80) and AIT_FIXED_KERNEL=first, or use Target.for_arch(90)."
    )


def gpu_count() -> int:
    try:
        return len(gpu_compute_capabilities())
    except NoGpuError:
        return 0


@functools.cache
def _libcuda():
    for name in ("libcuda.so.1", "libcuda.so"):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def _driver():
    """(libcuda, "") initialised, or (None, why not)."""
    lib = _libcuda()
    if lib is None:
        return None, "libcuda.so not found"
    if (rc := lib.cuInit(0)) != 0:
        return None, f"cuInit failed with CUresult {rc}"
    return lib, ""


def _cc_from_driver() -> tuple[list[tuple[int, int]], str]:
    lib, why = _driver()
    if lib is None:
        return [], why
    count = ctypes.c_int(0)
    if (rc := lib.cuDeviceGetCount(ctypes.byref(count))) != 0:
        return [], f"cuDeviceGetCount failed with CUresult {rc}"
    caps = []
    for i in range(count.value):
        dev, major, minor = ctypes.c_int(0), ctypes.c_int(0), ctypes.c_int(0)
        lib.cuDeviceGet(ctypes.byref(dev), i)
        lib.cuDeviceGetAttribute(ctypes.byref(major), _CU_ATTR_CC_MAJOR, dev)
        lib.cuDeviceGetAttribute(ctypes.byref(minor), _CU_ATTR_CC_MINOR, dev)
        caps.append((major.value, minor.value))
    return caps, "" if caps else "0 devices"


def gpu_total_memory() -> int | None:
    """Bytes of device memory of the first visible GPU (the one a build is for), or None where
    the CUDA driver cannot say (no GPU, no libcuda)."""
    lib, _ = _driver()
    if lib is None:
        return None
    dev, total = ctypes.c_int(0), ctypes.c_size_t(0)
    if lib.cuDeviceGet(ctypes.byref(dev), 0) != 0 or \
            lib.cuDeviceTotalMem_v2(ctypes.byref(total), dev) != 0:
        return None
    return total.value or None


def _cc_from_nvidia_smi() -> tuple[list[tuple[int, int]], str]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return [], "not on PATH"
    try:
        out = subprocess.run([smi, "--query-gpu=compute_cap", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
    except (subprocess.SubprocessError, OSError) as e:
        return [], str(e)
    caps = [tuple(int(x) for x in line.strip().split("."))
            for line in out.splitlines() if line.strip()]
    # nvidia-smi lists every GPU; keep those CUDA_VISIBLE_DEVICES names by index
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")]
    if "CUDA_VISIBLE_DEVICES" in os.environ and all(v.isdigit() for v in visible):
        caps = [caps[int(v)] for v in visible if int(v) < len(caps)]
    elif visible == [""] and "CUDA_VISIBLE_DEVICES" in os.environ:
        caps = []  # set but empty: CUDA shows no GPU
    return caps, "" if caps else "no GPU listed"


# -- nvcc discovery -------------------------------------------------------------------------

def _nvcc_candidates() -> list[tuple[str, Path | None]]:
    """(where we looked, path or None) in search order."""
    found: list[tuple[str, Path | None]] = []
    for var in ("CUDA_HOME", "CUDA_PATH"):
        home = os.environ.get(var)
        found.append((f"${var}/bin/nvcc", Path(home) / "bin" / "nvcc" if home else None))
    which = shutil.which("nvcc")
    found.append(("PATH", Path(which) if which else None))
    spec = importlib.util.find_spec("nvidia")
    wheel = None
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            for sub in ("cu13", "cu12", "cuda_nvcc"):
                if (Path(loc) / sub / "bin" / "nvcc").is_file():
                    wheel = Path(loc) / sub / "bin" / "nvcc"
                    break
    found.append(("the cuda-toolkit wheel (site-packages/nvidia/cu13/bin/nvcc)", wheel))
    found.append(("/usr/local/cuda/bin/nvcc", Path("/usr/local/cuda/bin/nvcc")))
    return found


def _find_nvcc_or_none() -> str | None:
    for _, path in _nvcc_candidates():
        if path is not None and path.is_file() and os.access(path, os.X_OK):
            return str(path.resolve())
    return None


def _nvcc_missing_message() -> str:
    looked = ", ".join(where for where, _ in _nvcc_candidates())
    return (
        f"nvcc (the CUDA compiler, 12.8 or newer) was not found; looked at: {looked}. "
        "Install a CUDA toolkit and set CUDA_HOME (or put nvcc on PATH), or install the "
        f"toolkit wheel: {_NVCC_WHEEL_HINT} (the cccl extra provides the headers that "
        "cuda_fp16.h needs)."
    )


def _toolkit_includes(nvcc: str | None) -> tuple[str, ...]:
    """The wheel's nvcc keeps its headers beside it (nvidia/cu13/include); name them explicitly."""
    if nvcc is None:
        return ()
    inc = Path(nvcc).parent.parent / "include"
    return (str(inc),) if (inc / "cuda_runtime.h").is_file() else ()
