"""CPU time of each step nvcc runs for one object, with ait's flags (docs/compile_time.md).

    .venv/bin/python scripts/dev/nvcc_phases.py X.cu [--cold] [--arch 90] [-- extra nvcc flags]

Runs `nvcc --dryrun`'s commands one by one and prints each one's user + system time (of its
process tree) and minor page faults; --cold takes the flags of kernel TUs and profiler mains
(Source.host_cold). The object goes to X.o beside the source. CPU time, not wall time, so
that a busy machine skews it little; time one object at a time.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ait.backend import nvcc  # noqa: E402
from ait.backend.target import Target  # noqa: E402


def step_name(cmd: str) -> str:
    tool = cmd.split()[0].strip('"').split("/")[-1]
    if tool == "gcc":
        if " -E " not in cmd:
            return "g++ host compile"
        return "g++ -E device" if "__CUDA_ARCH__=" in cmd else "g++ -E host"
    return tool


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("source", type=Path)
    ap.add_argument("--cold", action="store_true")
    ap.add_argument("--arch", type=int, default=90)
    ap.add_argument("extra", nargs="*")
    a, rest = ap.parse_known_args()
    a.extra += [x for x in rest if x != "--"]
    t = Target.for_arch(a.arch)
    flags = [*nvcc.compile_flags(t, a.cold), *a.extra]
    with tempfile.TemporaryDirectory() as keep:
        dry = subprocess.run([t.require_nvcc(), *flags, "--dryrun", "--keep", "--keep-dir", keep,
                              "-c", str(a.source), "-o", str(a.source.with_suffix(".o"))],
                             capture_output=True, text=True, check=True).stderr
        env, total = dict(os.environ), 0.0
        for line in dry.splitlines():
            cmd = line.removeprefix("#$ ")
            if m := re.fullmatch(r"([A-Z_]+)=(.*)", cmd):  # nvcc's environment settings
                env[m[1]] = subprocess.run(["bash", "-c", f"echo {m[2]}"], env=env,
                                           capture_output=True, text=True).stdout.strip()
                continue
            if cmd.startswith("rm "):
                continue
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(["bash", "-c", cmd], env=env, check=True)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
            total += cpu
            print(f"{step_name(cmd):18s} {cpu:7.2f} s  ({(r1.ru_minflt - r0.ru_minflt) // 1000}k "
                  f"page faults)")
    print(f"{'total':18s} {total:7.2f} s")


if __name__ == "__main__":
    main()
