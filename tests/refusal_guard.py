"""A host program that calls a conv2d kernel's C entry points with arguments it must refuse
before touching the GPU (so it runs with or without one), linked with the kernel's object.
Each test gives the cases: C++ statements in `main` that start from a valid problem `b` and
call `expect(a, "what")` on a changed copy `a`."""
from __future__ import annotations

import subprocess
from pathlib import Path

from ait.backend import nvcc
from ait.backend.target import Target

_SOURCE = r"""
#include <cstdio>
#include "ait_abi.h"
extern "C" int NAME(const AitConv2dArgs*, void*, size_t, cudaStream_t);
extern "C" size_t NAME_workspace_bytes(const AitConv2dArgs*);
alignas(16) static char buf[64];
int bad = 0;
void expect(AitConv2dArgs a, const char* what) {
  int st = NAME(&a, nullptr, 0, nullptr);
  if (st != AIT_ERR_CANNOT_IMPLEMENT) { std::printf("%s: status %d\n", what, st); ++bad; }
  if (NO_WORKSPACE && NAME_workspace_bytes(&a) != 0) {
    std::printf("%s: workspace\n", what);
    ++bad;
  }
}
int main() {
  AitConv2dArgs b{};
  b.x = b.w = b.bias = b.y = buf;
  b.residual = RESIDUAL ? buf : nullptr;
CASES
  if (NAME(nullptr, nullptr, 0, nullptr) != AIT_ERR_CANNOT_IMPLEMENT) ++bad;
  if (NAME_workspace_bytes(nullptr) != 0) ++bad;
  std::printf(bad ? "FAILED\n" : "ok\n");
  return bad;
}
"""


def check_refusals(target: Target, cand, obj: Path, tmp_path: Path, cases: str, *,
                   refused_need_no_workspace: bool) -> None:
    """Build the guard for `cand` (its object `obj`) and run it: every case is refused, and
    with `refused_need_no_workspace` every refused case also asks for no workspace."""
    source = (_SOURCE.replace("CASES", cases.strip("\n"))
              .replace("NO_WORKSPACE", "true" if refused_need_no_workspace else "false")
              .replace("RESIDUAL", "true" if cand.epilogue.residual else "false")
              .replace("NAME", cand.name))
    main = tmp_path / "guard.cu"
    main.write_text(source)
    exe = tmp_path / "guard"
    subprocess.run([target.nvcc, *nvcc.compile_flags(target), str(main), str(obj), "-o",
                    str(exe)], check=True, capture_output=True, timeout=300)
    out = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stdout + out.stderr
