"""nvcc driver: compile many .cu sources in parallel with a content-addressed object cache,
then link shared libraries and executables.

An object's cache key hashes its source, its flags (include paths left out: the CUTLASS
version and ABI header hash stand for them, so two venvs share objects), the nvcc version,
the CUTLASS version and the ABI header, so an unchanged kernel is never rebuilt.

The flags differ only in the host compiler's (g++'s) work, never in the device code: every
change here was checked with the cubins of a 3.x conv, a gemm3x, a 2.x conv unit and a
profiler main byte-identical before and after (docs/compile_time.md).
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import subprocess
import threading
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

from ait import fs
from ait.backend.target import Target
from ait.backend.templates import ABI_INCLUDE_DIR
from ait.ir.errors import AitError
from ait.ir.env import env_count

log = logging.getLogger(__name__)

# CUTLASS_ENABLE_GDC_FOR_SM90: CUTLASS 3.x kernels wait for the kernel before them (and let the
# next one launch early) when launched with programmatic dependent launch; no-ops otherwise.
BASE_FLAGS = ("-std=c++17", "-DNDEBUG", "--expt-relaxed-constexpr",
              "-DCUTLASS_ENABLE_GDC_FOR_SM90", "-Xcompiler", "-fPIC")
# g++ parses ~13 MB of CUTLASS per Hopper TU in ~1 GB of heap: collecting garbage on the way
# costs ~0.4 s of its ~3.9 s and frees nothing the compile needs (output unchanged).
_GCC_NO_GC = ("-Xcompiler", "--param=ggc-min-expand=100",
              "-Xcompiler", "--param=ggc-min-heapsize=2097152")
# Host code that runs per call (the model's runtime TU, the own kernels' launchers).
HOST_FLAGS = ("-O3", *_GCC_NO_GC)
# Kernel TUs and profiler mains (Source.host_cold): their host code (CUTLASS's argument
# building, initialize, the profiler's loop) runs at record time or in the profiler only;
# g++ -O1 saves ~0.65 s per Hopper TU and ~0.35 s per profiler main; cicc, ptxas and the
# device preprocessing see the same input (-O1 and -O3 both define __OPTIMIZE__).
COLD_HOST_FLAGS = ("-O1", *_GCC_NO_GC)
_STDERR_TAIL = 4000
_GIB = 1 << 30
_MEM_PER_JOB = 4 * _GIB  # a Hopper 3.x kernel takes ~3.5 GB in cicc/ptxas


class NvccError(AitError, RuntimeError):
    """A compile or link failed; the message names the kept source and nvcc's stderr tail."""


class BuildCancelled(AitError):
    """The build was interrupted (Ctrl-C): queued compiles were dropped, running ones ended."""


# Every running nvcc, so that an interrupt can end them; the event stops queued compiles.
_procs: set[subprocess.Popen] = set()
_procs_lock = threading.Lock()
_cancelled = threading.Event()


def cancel_builds() -> None:
    """Drop queued compiles and end running nvcc processes (on Ctrl-C): the workers' futures
    then fail with BuildCancelled at once instead of building on."""
    with _procs_lock:
        _cancelled.set()
        procs = list(_procs)
    for proc in procs:
        try:
            proc.terminate()
        except OSError:
            pass


def cancelled() -> bool:
    return _cancelled.is_set()


def _start_build() -> None:
    """A new build starts uncancelled (an earlier interrupt in this process is over)."""
    with _procs_lock:
        if not _procs:
            _cancelled.clear()


@dataclass(frozen=True)
class Source:
    name: str           # file stem: a kernel name or a profiler main
    text: str
    cost: float = 1.0   # relative compile time: the longest start first (shorter makespan)
    host_cold: bool = False  # host code runs at record time / in a profiler: COLD_HOST_FLAGS
    # compiled as two objects at once (a Hopper unit whose text has the split passes): a
    # cubin (-DAIT_DEVICE_PASS) and a host object (-DAIT_HOST_PASS), then joined (see Split)
    split: bool = False


def cache_dir() -> Path:
    """$AIT_CACHE_DIR, else $XDG_CACHE_HOME/ait, else ~/.cache/ait."""
    if env := os.environ.get("AIT_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ait"


def cache_dir_origin() -> str:
    """Where cache_dir() came from, as a user would set it (for error messages)."""
    if env := os.environ.get("AIT_CACHE_DIR"):
        return f"AIT_CACHE_DIR={env}"
    if env := os.environ.get("XDG_CACHE_HOME"):
        return f"XDG_CACHE_HOME={env} (the cache dir; set AIT_CACHE_DIR to choose another)"
    return "the cache dir ~/.cache/ait (set AIT_CACHE_DIR to choose another)"


_checked_dirs: set[Path] = set()


def require_cache_dir(cache: Path | None = None) -> Path:
    """The cache dir, created and checked writable once per process (in the calling thread,
    before any worker starts), with its orphaned temporary files removed; an AitError naming
    the variable otherwise."""
    root = cache if cache is not None else cache_dir()
    if root not in _checked_dirs:
        what = f"cache dir {root}" if cache is not None else cache_dir_origin()
        fs.require_writable_dir(root, what)
        removed = fs.clean_orphans(root)
        if removed:
            log.info("removed %d orphaned temporary file(s) under %s", removed, root)
        _checked_dirs.add(root)
    return root


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


def compile_flags(target: Target, host_cold: bool = False) -> list[str]:
    """nvcc's flags for one object; `host_cold`: a kernel TU or profiler main (see
    COLD_HOST_FLAGS). The device code is the same either way."""
    includes = [f"-I{d}" for d in (str(ABI_INCLUDE_DIR), *target.include_dirs)]
    host = COLD_HOST_FLAGS if host_cold else HOST_FLAGS
    return [*host, *BASE_FLAGS, *target.gencode(), *includes]


def object_key(target: Target, source: Source, extra: Sequence[str] = ()) -> str:
    """Content hash identifying the object `source` compiles to for `target` (its own flags
    included: the same text with other flags is another object); `extra`: the flags of one
    pass of a split source, or a split source's own marker."""
    nvcc = target.require_nvcc()
    flags = [f for f in compile_flags(target, source.host_cold) if not f.startswith("-I")]
    blob = [source.text, flags, nvcc_version(nvcc), target.cutlass_version, _abi_hash()]
    if extra:  # absent otherwise: the keys of unsplit objects are what they always were
        blob.append(list(extra))
    return hashlib.sha256(json.dumps(blob).encode()).hexdigest()[:20]


DEVICE_PASS = ("-DAIT_DEVICE_PASS", "-cubin")


@dataclass(frozen=True)
class Split:
    """The files of a split source (ait/tune/build.py: the Hopper units). Its device pass
    (`-DAIT_DEVICE_PASS -cubin`: the __global__ entries, cicc + ptxas) and its host pass
    (`-DAIT_HOST_PASS -c`: the host code, no kernel instantiated) compile at the same time;
    once the cubin exists a tiny object embeds its bytes under `symbol` (an .incbin, ~10 ms),
    which the host pass declares (-DAIT_UNIT_CUBIN); `ld -r` joins host object and embed
    object into the unit's object, so that every consumer links one object per unit as
    before. Each file is named by its content key (the cubin's from the source and the
    device flags; the symbol is the cubin's key, so the host object's key covers it)."""

    cubin: Path
    host: Path
    embed: Path
    symbol: str

    @property
    def host_flags(self) -> tuple[str, ...]:
        return _host_pass_flags(self.symbol)


def _host_pass_flags(symbol: str) -> tuple[str, ...]:
    return ("-DAIT_HOST_PASS", f"-DAIT_UNIT_CUBIN={symbol}")


def split_files(target: Target, source: Source, root: Path) -> Split:
    cubin_key = object_key(target, source, DEVICE_PASS)
    symbol = f"ait_cubin_{cubin_key}"
    host_key = object_key(target, source, _host_pass_flags(symbol))
    objects = root / "objects"
    return Split(cubin=objects / cubin_key[:2] / f"{source.name}-{cubin_key}.cubin",
                 host=objects / host_key[:2] / f"{source.name}-{host_key}.host.o",
                 embed=objects / cubin_key[:2] / f"{source.name}-{cubin_key}.embed.o",
                 symbol=symbol)


def default_jobs() -> int:
    """Every core, capped so that concurrent Hopper compiles fit in memory (AIT_COMPILE_JOBS
    sets it: see compile_jobs)."""
    cpus = os.cpu_count() or 1
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return cpus
    return max(1, min(cpus, mem // _MEM_PER_JOB))


def compile_jobs(reserve: int = 0) -> int:
    """How many nvcc processes a build runs at once: AIT_COMPILE_JOBS, else default_jobs()
    less `reserve` (cores kept for other work, e.g. one per profiling GPU), at least one."""
    return env_count("AIT_COMPILE_JOBS") or max(1, default_jobs() - reserve)


def _plan(target: Target, sources: Sequence[Source], cache: Path | None
          ) -> list[tuple[Source, Path, Path]]:
    """(source, .cu path, object path) per source, paths named by the content key."""
    root = require_cache_dir(cache)
    plan = []
    for src in sources:
        key = object_key(target, src, ("split",) if src.split else ())
        plan.append((src, root / "sources" / f"{src.name}-{key}.cu",
                     root / "objects" / key[:2] / f"{src.name}-{key}.o"))
    return plan


def submit_objects(pool: Executor, target: Target, sources: Sequence[Source], *,
                   cache: Path | None = None) -> list[Future]:
    """One future per source (input order) resolving to its object path: compiles go to
    `pool` in the order given (callers order them to finish what they need first); cached
    objects and repeated sources cost nothing. A failed compile's future holds its
    NvccError."""
    _start_build()
    futures: dict[Path, Future] = {}
    out = []
    for src, cu, obj in _plan(target, sources, cache):
        if obj not in futures:
            if cached_object_ok(obj):
                futures[obj] = Future()
                futures[obj].set_result(obj)
            else:
                futures[obj] = _submit(pool, target, src, cu, obj)
        out.append(futures[obj])
    return out


def _submit(pool: Executor, target: Target, src: Source, cu: Path, obj: Path) -> Future:
    """The future of `obj`, compiled on `pool`: one nvcc, or a split source's two at once."""
    nvcc = target.require_nvcc()
    flags = compile_flags(target, src.host_cold)
    if not src.split:
        return pool.submit(_compile_one, nvcc, flags, src, cu, obj)
    files = split_files(target, src, obj.parent.parent.parent)
    device = pool.submit(_device_pass, nvcc, flags, src, cu, files)
    host = (_done(files.host) if cached_object_ok(files.host) else
            pool.submit(_compile_one, nvcc, [*flags, *files.host_flags], src, cu, files.host,
                        "host"))
    left = [device, host]
    joined = _Joined(left)
    lock = threading.Lock()
    started = []

    def one_done(_: Future) -> None:
        with lock:
            if started or not all(f.done() for f in left):
                return
            started.append(True)
        if not joined.set_running_or_notify_cancel():
            return
        for f in left:
            if f.cancelled():
                joined.set_exception(BuildCancelled(f"compiling {src.name}: cancelled"))
                return
            if f.exception() is not None:
                joined.set_exception(f.exception())
                return
        try:
            joined.set_result(_join(obj, files, src.name))
        except BaseException as e:  # noqa: BLE001 - handed to whoever waits for the object
            joined.set_exception(e)

    for f in left:
        f.add_done_callback(one_done)
    return joined


class _Joined(Future):
    """The future of a split source's object: cancelling it cancels its passes still queued
    (as cancelling a queued compile does)."""

    def __init__(self, parts: list[Future]):
        super().__init__()
        self._parts = parts

    def cancel(self) -> bool:
        for f in self._parts:
            f.cancel()
        return super().cancel()


def _done(value) -> Future:
    f: Future = Future()
    f.set_result(value)
    return f


def _device_pass(nvcc: str, flags: list[str], src: Source, cu: Path, files: Split) -> Path:
    """The cubin (cached), then the object embedding it (cached)."""
    if not cached_object_ok(files.cubin):
        _compile_one(nvcc, [*flags, DEVICE_PASS[0]], src, cu, files.cubin, "device",
                     mode=DEVICE_PASS[1])
    if not cached_object_ok(files.embed):
        _embed(files)
    return files.embed


def _embed(files: Split) -> None:
    """An object holding the cubin's bytes as `files.symbol` (hidden: each .so uses its own
    copy), from a generated assembler file (.incbin); costs ~10 ms."""
    asm = fs.tmp_path(files.embed.with_suffix(".S"))
    cubin = str(files.cubin).replace("\\", "\\\\").replace('"', '\\"')
    fs.write_atomic(asm, (
        '\t.section .rodata.ait_cubin,"a",@progbits\n'
        "\t.balign 64\n"
        f"\t.globl {files.symbol}\n"
        f"\t.hidden {files.symbol}\n"
        f"\t.type {files.symbol}, @object\n"
        f"{files.symbol}:\n"
        f'\t.incbin "{cubin}"\n'
        f"\t.size {files.symbol}, . - {files.symbol}\n"
        '\t.section .note.GNU-stack,"",@progbits\n'))
    try:
        _run_into(files.embed, _tool("cc", "gcc"), ["-x", "assembler", "-c", str(asm)],
                  f"embedding {files.cubin.name}")
    finally:
        asm.unlink(missing_ok=True)


def _join(obj: Path, files: Split, name: str) -> Path:
    """The unit's object: its host object and its embed object in one (`ld -r`)."""
    obj.parent.mkdir(parents=True, exist_ok=True)
    return _run_into(obj, _tool("ld"), ["-r", str(files.host), str(files.embed)],
                     f"joining the host and device objects of {name}")


@functools.cache
def _tool(*names: str) -> str:
    for n in names:
        if path := shutil.which(n):
            return path
    raise NvccError(f"none of {', '.join(names)} found on PATH (needed to embed a cubin)")


def compile_objects(target: Target, sources: Sequence[Source], *, jobs: int | None = None,
                    cache: Path | None = None, desc: str = "nvcc",
                    keep_going: bool = False) -> list[Path | NvccError]:
    """Compile `sources` to objects (cached), in parallel; returns paths in input order.

    The first failure raises NvccError (pending compiles are cancelled), unless `keep_going`:
    then every source is tried and a failed one's entry is its NvccError."""
    nvcc = target.require_nvcc()
    _start_build()
    plan = _plan(target, sources, cache)
    todo = {obj: (src, cu) for src, cu, obj in sorted(plan, key=lambda p: -p[0].cost)
            if not cached_object_ok(obj)}
    failed: dict[Path, NvccError] = {}
    if todo:
        start = time.perf_counter()
        n_jobs = min(jobs or compile_jobs(), len(todo))
        with (cancel_on_interrupt(ThreadPoolExecutor(n_jobs)) as pool,
              tqdm(total=len(todo), desc=desc, unit="obj") as bar):
            futures = {_submit(pool, target, src, cu, obj): obj for obj, (src, cu) in todo.items()}
            for f in futures:
                f.add_done_callback(lambda _: bar.update())
            _, pending = wait(futures, return_when=ALL_COMPLETED if keep_going else FIRST_EXCEPTION)
            for f in pending:
                f.cancel()
            if cancelled():
                raise BuildCancelled(f"{desc}: interrupted; queued compiles cancelled")
            for f, obj in futures.items():
                if f.done() and not f.cancelled() and f.exception() is not None:
                    if not keep_going:
                        raise f.exception()
                    failed[obj] = f.exception()
        log.info("nvcc: compiled %d of %d objects in %.1f s (%d jobs, %d failed)", len(todo),
                 len(plan), time.perf_counter() - start, n_jobs, len(failed))
    return [failed.get(obj, obj) for _, _, obj in plan]


class cancel_on_interrupt:
    """``with cancel_on_interrupt(ThreadPoolExecutor(n)) as pool``: as the executor's own
    context, but an exception in the block (Ctrl-C above all) first cancels the queued work
    and ends running nvcc processes, so that leaving the block does not wait for them."""

    def __init__(self, pool: ThreadPoolExecutor):
        self.pool = pool

    def __enter__(self) -> ThreadPoolExecutor:
        return self.pool

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            cancel_builds()
            self.pool.shutdown(wait=True, cancel_futures=True)
        else:
            self.pool.shutdown(wait=True)


def cached_object_ok(obj: Path) -> bool:
    """Whether a cached object (or executable) may be used: it exists and is a whole ELF
    file. A damaged one (empty, truncated: a crash, a full disk, a foreign writer) is
    removed, with a warning, so that it is built again."""
    if not obj.is_file():
        return False
    problem = fs.elf_problem(obj)
    if problem is None:
        return True
    log.warning("cached %s %s; removing it to build it again", obj, problem)
    try:
        obj.unlink()
    except OSError as e:
        raise AitError(f"cached {obj} {problem} and cannot be removed ({e.strerror}); "
                       f"delete it by hand") from None
    return False


def _compile_one(nvcc: str, flags: list[str], src: Source, cu: Path, obj: Path,
                 part: str = "", mode: str = "-c") -> Path:
    """`part`: which pass of a split source ("device", "host"), for messages and timings;
    `mode`: nvcc's -c or -cubin."""
    what = f"{src.name} [{part}]" if part else src.name
    if cancelled():
        raise BuildCancelled(f"compiling {what}: cancelled")
    cu.parent.mkdir(parents=True, exist_ok=True)
    obj.parent.mkdir(parents=True, exist_ok=True)
    text = src.text.encode()
    if not cu.is_file() or cu.read_bytes() != text:  # content-named: anything else is damage
        fs.write_atomic(cu, text)
    start = time.perf_counter()
    _run_into(obj, nvcc, [*flags, mode, str(cu)], f"compiling {what} ({cu})")
    with _procs_lock:
        compile_times.append(CompileTime(what, start, time.perf_counter()))
    return obj


@dataclass(frozen=True)
class CompileTime:
    """One nvcc compile of this process (perf_counter seconds): what build summaries report."""

    name: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


compile_times: list[CompileTime] = []  # appended by every compile; readers slice by start


def compile_summary(since: float, until: float) -> str:
    """The compiles that started in [since, until]: how many cores they kept busy on
    average, and the longest ones (the critical path of a build that waits for them all)."""
    with _procs_lock:
        ts = [t for t in compile_times if since <= t.start <= until]
    if not ts or until <= since:
        return "no compiles"
    longest = sorted(ts, key=lambda t: -t.seconds)[:3]
    return (f"{sum(t.seconds for t in ts) / (until - since):.1f} compiles at a time on "
            f"average; longest " + ", ".join(f"{t.name} {t.seconds:.1f} s (from "
                                             f"{t.start - since:.1f} s)" for t in longest))


def _check_output(path: Path, what: str) -> None:
    if (problem := fs.elf_problem(path)) is not None:
        raise NvccError(f"nvcc {what}: its output {problem}")


def link_shared(target: Target, objects: Sequence[Path], output: Path) -> Path:
    """Link `objects` into a shared library (the CUDA runtime is linked statically)."""
    return _link(target, objects, output, ["-shared"])


def link_executable(target: Target, objects: Sequence[Path], output: Path) -> Path:
    return _link(target, objects, output, [])


def _link(target: Target, objects: Sequence[Path], output: Path, extra: list[str]) -> Path:
    nvcc = target.require_nvcc()
    fs.require_writable_dir(output.parent, f"output dir of {output.name}")
    fs.clean_orphans(output.parent, recursive=False)
    for obj in objects:
        if (problem := fs.elf_problem(obj)) is not None:
            raise NvccError(f"linking {output}: object {obj} {problem}")
    return _run_into(output, nvcc, [*target.gencode(), *extra, *map(str, objects)],
                     f"linking {output}")


def _run_into(output: Path, tool: str, args: list[str], what: str) -> Path:
    """Runs `tool args -o <temporary name>`, checks that it wrote a whole ELF file and
    renames it to `output`: a later run never trusts a half-written file."""
    tmp = fs.tmp_path(output)
    try:
        _run(tool, [*args, "-o", str(tmp)], what=what)
        _check_output(tmp, what)
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return output


def _run(nvcc: str, args: list[str], what: str) -> None:
    """Runs `nvcc` (or another tool) with `args`; NvccError with its stderr tail on failure."""
    with _procs_lock:  # registered before cancel_builds can miss it, or not started at all
        if _cancelled.is_set():
            raise BuildCancelled(f"{what}: cancelled")
        proc = subprocess.Popen([nvcc, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        _procs.add(proc)
    try:
        stdout, stderr = proc.communicate()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        with _procs_lock:
            _procs.discard(proc)
    if _cancelled.is_set():
        raise BuildCancelled(f"{what}: cancelled")
    if proc.returncode != 0:
        tail = (stderr or stdout)[-_STDERR_TAIL:]
        raise NvccError(f"{Path(nvcc).name} failed {what} (exit {proc.returncode}):\n{tail}")
