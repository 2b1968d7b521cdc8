"""nvcc driver: compile many .cu sources in parallel with a content-addressed object cache,
then link shared libraries and executables.

An object's cache key hashes its source, the flags (include paths left out: the CUTLASS
version and ABI header hash stand for them, so two venvs share objects), the nvcc version,
the CUTLASS version and the ABI header, so an unchanged kernel is never rebuilt.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import (
    ALL_COMPLETED,
    FIRST_EXCEPTION,
    Executor,
    Future,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ait.backend.target import Target
from ait.backend.templates import ABI_INCLUDE_DIR

log = logging.getLogger(__name__)

BASE_FLAGS = ("-O3", "-std=c++17", "-DNDEBUG", "--expt-relaxed-constexpr",
              "-Xcompiler", "-fPIC")
_STDERR_TAIL = 4000
_GIB = 1 << 30
_MEM_PER_JOB = 4 * _GIB  # a Hopper 3.x kernel takes ~3.5 GB in cicc/ptxas


class NvccError(RuntimeError):
    """A compile or link failed; the message names the kept source and nvcc's stderr tail."""


@dataclass(frozen=True)
class Source:
    name: str           # file stem: a kernel name or a profiler main
    text: str
    cost: float = 1.0   # relative compile time: the longest start first (shorter makespan)


def cache_dir() -> Path:
    """$AIT_CACHE_DIR, else $XDG_CACHE_HOME/ait, else ~/.cache/ait."""
    if env := os.environ.get("AIT_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ait"


@functools.cache
def nvcc_version(nvcc: str) -> str:
    out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=True).stdout
    return out.strip().splitlines()[-1]


@functools.cache
def _abi_hash() -> str:
    h = hashlib.sha256()
    for p in sorted(ABI_INCLUDE_DIR.glob("*.h")):
        h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def compile_flags(target: Target) -> list[str]:
    includes = [f"-I{d}" for d in (str(ABI_INCLUDE_DIR), *target.include_dirs)]
    return [*BASE_FLAGS, *target.gencode(), *includes]


def object_key(target: Target, source: Source) -> str:
    """Content hash identifying the object `source` compiles to for `target`."""
    nvcc = target.require_nvcc()
    flags = [f for f in compile_flags(target) if not f.startswith("-I")]
    blob = json.dumps([source.text, flags, nvcc_version(nvcc), target.cutlass_version, _abi_hash()])
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def default_jobs() -> int:
    """Every core, capped so that concurrent Hopper compiles fit in memory."""
    cpus = os.cpu_count() or 1
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return cpus
    return max(1, min(cpus, mem // _MEM_PER_JOB))


def _plan(target: Target, sources: Sequence[Source], cache: Path | None
          ) -> list[tuple[Source, Path, Path]]:
    """(source, .cu path, object path) per source, paths named by the content key."""
    root = cache or cache_dir()
    plan = []
    for src in sources:
        key = object_key(target, src)
        plan.append((src, root / "sources" / f"{src.name}-{key}.cu",
                     root / "objects" / key[:2] / f"{src.name}-{key}.o"))
    return plan


def submit_objects(pool: Executor, target: Target, sources: Sequence[Source], *,
                   cache: Path | None = None) -> list[Future]:
    """One future per source (input order) resolving to its object path: compiles go to
    `pool` in the order given (callers order them to finish what they need first); cached
    objects and repeated sources cost nothing. A failed compile's future holds its
    NvccError."""
    nvcc = target.require_nvcc()
    flags = compile_flags(target)
    futures: dict[Path, Future] = {}
    out = []
    for src, cu, obj in _plan(target, sources, cache):
        if obj not in futures:
            if obj.is_file():
                futures[obj] = Future()
                futures[obj].set_result(obj)
            else:
                futures[obj] = pool.submit(_compile_one, nvcc, flags, src, cu, obj)
        out.append(futures[obj])
    return out


def compile_objects(target: Target, sources: Sequence[Source], *, jobs: int | None = None,
                    cache: Path | None = None, desc: str = "nvcc",
                    keep_going: bool = False) -> list[Path | NvccError]:
    """Compile `sources` to objects (cached), in parallel; returns paths in input order.

    The first failure raises NvccError (pending compiles are cancelled), unless `keep_going`:
    then every source is tried and a failed one's entry is its NvccError."""
    nvcc = target.require_nvcc()
    flags = compile_flags(target)
    plan = _plan(target, sources, cache)
    todo = {obj: (src, cu) for src, cu, obj in sorted(plan, key=lambda p: -p[0].cost)
            if not obj.is_file()}
    failed: dict[Path, NvccError] = {}
    if todo:
        start = time.perf_counter()
        n_jobs = min(jobs or default_jobs(), len(todo))
        with (ThreadPoolExecutor(n_jobs) as pool,
              tqdm(total=len(todo), desc=desc, unit="obj") as bar):
            futures = {pool.submit(_compile_one, nvcc, flags, src, cu, obj): obj
                       for obj, (src, cu) in todo.items()}
            for f in futures:
                f.add_done_callback(lambda _: bar.update())
            _, pending = wait(futures, return_when=ALL_COMPLETED if keep_going else FIRST_EXCEPTION)
            for f in pending:
                f.cancel()
            for f, obj in futures.items():
                if f.done() and not f.cancelled() and f.exception() is not None:
                    if not keep_going:
                        raise f.exception()
                    failed[obj] = f.exception()
        log.info("nvcc: compiled %d of %d objects in %.1f s (%d jobs, %d failed)", len(todo),
                 len(plan), time.perf_counter() - start, n_jobs, len(failed))
    return [failed.get(obj, obj) for _, _, obj in plan]


def _compile_one(nvcc: str, flags: list[str], src: Source, cu: Path, obj: Path) -> Path:
    cu.parent.mkdir(parents=True, exist_ok=True)
    obj.parent.mkdir(parents=True, exist_ok=True)
    if not cu.is_file():
        _write_atomic(cu, src.text.encode())
    tmp = obj.with_name(f".{obj.name}.{os.getpid()}.{id(src)}.tmp")
    try:
        _run(nvcc, [*flags, "-c", str(cu), "-o", str(tmp)], what=f"compiling {src.name} ({cu})")
        os.replace(tmp, obj)
    finally:
        tmp.unlink(missing_ok=True)
    return obj


def link_shared(target: Target, objects: Sequence[Path], output: Path) -> Path:
    """Link `objects` into a shared library (the CUDA runtime is linked statically)."""
    return _link(target, objects, output, ["-shared"])


def link_executable(target: Target, objects: Sequence[Path], output: Path) -> Path:
    return _link(target, objects, output, [])


def _link(target: Target, objects: Sequence[Path], output: Path, extra: list[str]) -> Path:
    nvcc = target.require_nvcc()
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    try:
        _run(nvcc, [*target.gencode(), *extra, *map(str, objects), "-o", str(tmp)],
             what=f"linking {output}")
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return output


def _run(nvcc: str, args: list[str], what: str) -> None:
    proc = subprocess.run([nvcc, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout)[-_STDERR_TAIL:]
        raise NvccError(f"nvcc failed {what} (exit {proc.returncode}):\n{tail}")


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
