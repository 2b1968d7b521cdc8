"""The one door to the `nvidia-cutlass` wheel: header paths, version, and CUTLASS's own
kernel enumeration (used to check that our hand-picked tiles are configurations CUTLASS ships).

No other module imports `cutlass_library`: it parses `sys.argv` at import time (a program's own
`--help` would print CUTLASS's help), so the import is shielded here once.
"""
from __future__ import annotations

import functools
import importlib.metadata
import re
import sys
from pathlib import Path
from types import ModuleType

_INSTALL_HINT = 'pip install "nvidia-cutlass==4.2.0.0"'


class CutlassNotFoundError(RuntimeError):
    pass


@functools.cache
def _modules() -> tuple[ModuleType, ModuleType, ModuleType, ModuleType]:
    """(cutlass_library, generator, manifest, library), imported with sys.argv shielded."""
    saved = sys.argv
    sys.argv = [saved[0] if saved else "ait"]
    try:
        import cutlass_library
        from cutlass_library import generator, library, manifest
    except ImportError as e:
        raise CutlassNotFoundError(
            f"the CUTLASS python package is missing ({e}); install it with {_INSTALL_HINT}"
        ) from e
    finally:
        sys.argv = saved
    return cutlass_library, generator, manifest, library


@functools.cache
def source_path() -> Path:
    """Root of the CUTLASS sources shipped in the wheel (has include/ and tools/)."""
    path = Path(_modules()[0].source_path)
    if not (path / "include" / "cutlass" / "cutlass.h").is_file():
        raise CutlassNotFoundError(
            f"CUTLASS headers not found under {path}; reinstall with {_INSTALL_HINT}"
        )
    return path


def include_dirs() -> tuple[str, ...]:
    root = source_path()
    return (str(root / "include"), str(root / "tools" / "util" / "include"))


@functools.cache
def version() -> str:
    """The wheel's version (e.g. 4.2.0.0); falls back to cutlass/version.h."""
    try:
        return importlib.metadata.version("nvidia-cutlass")
    except importlib.metadata.PackageNotFoundError:
        text = (source_path() / "include" / "cutlass" / "version.h").read_text()
        parts = [re.search(rf"#define CUTLASS_{p}\s+(\d+)", text)
                 for p in ("MAJOR", "MINOR", "PATCH")]
        return ".".join(m.group(1) if m else "0" for m in parts)


def _manifest(arch: str, operations: str):
    _, generator, manifest, _ = _modules()
    args = generator.define_parser().parse_args(
        ["--architectures", arch, "--kernels", "all", "--operations", operations]
    )
    return manifest.Manifest(args)


def _operations(m, kind) -> list:
    return [op for cfgs in m.operations.get(kind, {}).values()
            for ops in cfgs.values() for op in ops]


@functools.cache
def sm80_tensorop_tiles(operation: str) -> frozenset[tuple[tuple[int, ...], tuple[int, ...]]]:
    """{(threadblock shape, warp count)} of CUTLASS's fp16 16x8x16 tensor-op kernels for
    `operation` ("conv2d" or "gemm")."""
    _, generator, _, library = _modules()
    m = _manifest("80", operation)
    generator.GenerateSM80_TensorOp_16816(m, "13.0")
    kind = library.OperationKind.Conv2d if operation == "conv2d" else library.OperationKind.Gemm
    return frozenset(
        (tuple(op.tile_description.threadblock_shape), tuple(op.tile_description.warp_count))
        for op in _operations(m, kind)
        if op.A.element == library.DataType.f16
    )


@functools.cache
def sm90_conv_fprop_tiles() -> frozenset[tuple[int, int, int]]:
    """Tile shapes of CUTLASS's fp16 Hopper (3.x) conv fprop kernels."""
    _, generator, _, library = _modules()
    m = _manifest("90a", "conv2d")
    generator.GenerateSM90_Conv3x(m, "13.0")
    return frozenset(
        tuple(op.tile_description.tile_shape)
        for op in _operations(m, library.OperationKind.Conv2d)
        if op.conv_kind == library.ConvKind.Fprop and op.A.element == library.DataType.f16
    )
