"""Cache and work dirs (issue 12): a bad AIT_CACHE_DIR or work dir is named before anything is
built, a damaged profile cache is named with the way out, a damaged cached object is never
trusted, Ctrl-C cancels the queued compiles (exit 130, one line), orphaned temporary files are
removed. CPU only; the object tests need nvcc, the Ctrl-C test a stand-in nvcc."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import ait
from ait import AitError, IntVar, Tensor, fs, nn
from ait.backend import nvcc
from ait.backend.target import Target
from ait.tune.cache import ProfileCache, ProfileCacheError
from tests.conftest import ROOT

RNG = np.random.default_rng(1212)
TARGET = Target.for_arch(90)
needs_nvcc = pytest.mark.skipif(TARGET.nvcc is None, reason="nvcc not found")


@pytest.fixture(autouse=True)
def fresh_checks(monkeypatch):
    """Each test sees its own cache dir checked afresh."""
    monkeypatch.setattr(nvcc, "_checked_dirs", set())
    for var in ("AIT_FORCE_PROFILE", "AIT_PROFILE_CACHE_ONLY", "AIT_FIXED_KERNEL", "AIT_ARCH"):
        monkeypatch.delenv(var, raising=False)


def _source(tag: str) -> nvcc.Source:
    """A small, unique translation unit (random constant: a fresh cache key each run)."""
    k = float(RNG.standard_normal())
    return nvcc.Source(f"k_{tag}", textwrap.dedent(f"""
        extern "C" __global__ void k_{tag}(float* y) {{ y[threadIdx.x] *= {k!r}f; }}
        extern "C" int k_{tag}_host() {{ return {int(RNG.integers(1, 1000))}; }}
    """))


def _tiny():
    fc = nn.Linear(8, 4)
    fc.name_parameter_tensor()
    y = fc(Tensor([IntVar([1, 4], "n"), 8], name="x", is_input=True))
    y.name = "y"
    return y


# -- AIT_CACHE_DIR --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["file", "under a file", "unwritable"])
def test_a_bad_cache_dir_names_the_variable(tmp_path, monkeypatch, kind):
    afile = tmp_path / "afile"
    afile.write_bytes(RNG.bytes(32))
    where = {"file": afile, "under a file": afile / "cache",
             "unwritable": Path("/proc/ait-cache-test")}[kind]
    monkeypatch.setenv("AIT_CACHE_DIR", str(where))
    with pytest.raises(AitError, match=rf"AIT_CACHE_DIR={where}: .*expected a writable "
                                       "directory"):
        nvcc.compile_objects(TARGET, [_source("cd")])
    with pytest.raises(AitError, match=rf"AIT_CACHE_DIR={where}"):
        ProfileCache()


def test_a_bad_cache_dir_is_one_line_from_a_script(tmp_path):
    afile = tmp_path / "cache"
    afile.write_bytes(RNG.bytes(32))
    env = {**os.environ, "AIT_CACHE_DIR": str(afile), "AIT_ARCH": "90",
           "AIT_FIXED_KERNEL": "first", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "benchmark_ait.py", "--compile-only", "--batch-size",
                           "1", "--model", "resnet18", "--workdir", str(tmp_path / "w")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"benchmark_ait.py: error: AIT_CACHE_DIR={afile}: {afile} is not a "
                     "directory (a file is there); expected a writable directory"]


# -- profile cache --------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["random bytes", "truncated"])
def test_a_damaged_profile_cache_is_named_with_the_way_out(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("AIT_CACHE_DIR", str(tmp_path))
    path = tmp_path / "profile.sqlite"
    if damage == "random bytes":
        path.write_bytes(RNG.bytes(4096))
    else:
        ProfileCache()
        data = path.read_bytes()
        path.write_bytes(b"SQLite format 3\x00" + RNG.bytes(len(data) // 2))
    with pytest.raises(ProfileCacheError) as e:
        ProfileCache()
    msg = str(e.value)
    assert f"profile cache {path} is damaged" in msg and f"mv {path} {path}.bad" in msg
    path.rename(path.with_name("profile.sqlite.bad"))  # the way out works
    assert len(ProfileCache()) == 0


# -- cached objects -------------------------------------------------------------------------
@needs_nvcc
@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_a_damaged_cached_object_is_rebuilt_not_trusted(tmp_path, caplog, damage):
    src = _source("obj")
    obj, = nvcc.compile_objects(TARGET, [src], cache=tmp_path)
    good = obj.read_bytes()
    assert fs.elf_problem(obj) is None
    obj.write_bytes(b"" if damage == "empty" else good[: len(good) // 2])
    with caplog.at_level(logging.WARNING, logger="ait.backend.nvcc"):
        again, = nvcc.compile_objects(TARGET, [src], cache=tmp_path)
    assert again == obj and fs.elf_problem(obj) is None and obj.stat().st_size == len(good)
    assert any("removing it to build it again" in r.getMessage() for r in caplog.records)
    # a link never takes a damaged object either
    obj.write_bytes(good[:100])
    with pytest.raises(nvcc.NvccError, match=rf"object {obj} is (truncated|not an ELF)"):
        nvcc.link_shared(TARGET, [obj], tmp_path / "out" / "x.so")
    assert not (tmp_path / "out" / "x.so").exists()


def test_elf_check_on_random_and_cut_files(tmp_path):
    p = tmp_path / "x.o"
    p.write_bytes(b"")
    assert fs.elf_problem(p) == "is empty (0 bytes)"
    p.write_bytes(RNG.bytes(200))
    assert "not an ELF file" in fs.elf_problem(p)
    head = bytearray(RNG.bytes(64))
    head[:6] = b"\x7fELF\x02\x01"
    head[0x28:0x30] = (4096).to_bytes(8, "little")  # section headers at 4096...
    head[0x3A:0x3E] = (64).to_bytes(2, "little") + (10).to_bytes(2, "little")
    p.write_bytes(bytes(head) + RNG.bytes(500))      # ...of a 564-byte file
    assert "is truncated" in fs.elf_problem(p)


# -- work dir -------------------------------------------------------------------------------
def test_an_unwritable_work_dir_is_found_before_building(tmp_path, monkeypatch):
    monkeypatch.setenv("AIT_CACHE_DIR", str(tmp_path / "cache"))
    import ait.tune

    def no(*a, **k):
        raise AssertionError("kernels were selected before the work dir was checked")
    monkeypatch.setattr(ait.tune, "select_kernels", no)
    afile = tmp_path / "work"
    afile.write_bytes(RNG.bytes(16))
    with pytest.raises(AitError, match=rf"work dir {afile}: cannot write in {afile}/tiny \(Not a directory\)"):
        ait.compile_model(_tiny(), TARGET, afile, "tiny", profile=False)


def test_a_model_too_big_for_the_gpu_is_refused_before_building(tmp_path, monkeypatch):
    """The memory plan's workspace at the largest batch against the visible GPU's memory,
    checked before kernel selection: `benchmark_ait.py --batch-size 100000` is an error that
    names the sizes, not minutes of profiling and then an allocation failure."""
    import ait.tune

    cm = sys.modules["ait.compiler.compile_model"]  # the package's name is the function

    monkeypatch.setenv("AIT_CACHE_DIR", str(tmp_path / "cache"))

    def no(*a, **k):
        raise AssertionError("kernels were selected for a model that cannot fit")
    monkeypatch.setattr(ait.tune, "select_kernels", no)
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(8, 16), nn.Linear(16, 4)

        def forward(self, x):
            return self.fc2(self.fc1(x))

    def two_layers():  # an intermediate tensor: a workspace of n x 16 halves
        m = Two()
        m.name_parameter_tensor()
        y = m(Tensor([IntVar([1, 64], "n"), 8], name="x", is_input=True))
        y.name = "y"
        return y
    monkeypatch.setattr(cm, "gpu_total_memory", lambda: 1024)  # bytes
    with pytest.raises(AitError, match=r"two: its activations need 0.0 GiB of device memory at "
                                       r"the largest shapes \(n up to 64\), more than the GPU's"):
        ait.compile_model(two_layers(), TARGET, tmp_path / "work", "two", profile=False)
    # a GPU with room, or none: the check passes (selection is reached)
    for total in (1 << 40, None):
        monkeypatch.setattr(cm, "gpu_total_memory", lambda total=total: total)
        with pytest.raises(AssertionError, match="kernels were selected"):
            ait.compile_model(two_layers(), TARGET, tmp_path / "work", "two", profile=False)


# -- temporary files ------------------------------------------------------------------------
def _dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def test_orphaned_temporary_files_are_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("AIT_CACHE_DIR", str(tmp_path))
    sub = tmp_path / "objects" / "ab"
    sub.mkdir(parents=True)
    orphan = sub / f".k-abc.o.{_dead_pid()}.3.tmp"
    mine = sub / f".k-def.o.{os.getpid()}.0.tmp"
    old = sub / ".k-old.o.1.2.tmp"
    for p in (orphan, mine, old):
        p.write_bytes(RNG.bytes(64))
    os.utime(old, (time.time() - 2 * fs.ORPHAN_AGE_S,) * 2)
    keep = sub / "k-abc.o"
    keep.write_bytes(RNG.bytes(64))
    nvcc.require_cache_dir()
    assert not orphan.exists() and not old.exists()
    assert mine.exists() and keep.exists()


def test_write_atomic_leaves_only_the_file(tmp_path):
    data = RNG.bytes(1000)
    fs.write_atomic(tmp_path / "f.bin", data)
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]
    assert (tmp_path / "f.bin").read_bytes() == data


# -- Ctrl-C ---------------------------------------------------------------------------------
FAKE_NVCC = """#!/bin/sh
if [ "$1" = "--version" ]; then echo "Cuda compilation tools, fake"; exit 0; fi
echo $$ >> "{log}"
exec sleep 60
"""

BUILD = """
import sys
from ait import cli
from ait.backend import nvcc
from ait.backend.target import Target

def main(argv):
    t = Target(90, nvcc=sys.argv[1])
    srcs = [nvcc.Source(f"s{i}", f"// {i} {sys.argv[3]}") for i in range(12)]
    nvcc.compile_objects(t, srcs, jobs=2, cache=__import__("pathlib").Path(sys.argv[2]))
    return 0

sys.exit(cli.run(main, "build"))
"""


def test_ctrl_c_cancels_queued_compiles_and_exits_130(tmp_path):
    log = tmp_path / "pids"
    fake = tmp_path / "nvcc"
    fake.write_text(FAKE_NVCC.format(log=log))
    fake.chmod(0o755)
    script = tmp_path / "build.py"
    script.write_text(BUILD)
    proc = subprocess.Popen([sys.executable, str(script), str(fake), str(tmp_path / "cache"),
                             str(RNG.integers(1 << 30))], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while (not log.exists() or len(log.read_text().split()) < 2) and time.time() < deadline:
        time.sleep(0.1)
    assert log.exists(), "the stand-in nvcc never started"
    t0 = time.time()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert time.time() - t0 < 10  # not the 12 x 60 s of the queue
    lines = [line for line in err.splitlines() if "interrupted" in line or "Traceback" in line]
    assert lines == ["build: interrupted"], err
    pids = [int(p) for p in log.read_text().split()]
    assert len(pids) == 2  # the two running; none of the ten queued started
    for pid in pids:  # and the running ones were ended
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"nvcc {pid} still runs after Ctrl-C")
    assert not list((tmp_path / "cache").rglob("*.o"))  # nothing half-built left to trust
