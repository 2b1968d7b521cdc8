"""The package stack, read from every import in ait/ (module level, inside functions and
under TYPE_CHECKING alike): which ait package may import which (docs/ARCHITECTURE.md).

    ir        <- nothing else of ait (errors, shapes, tensors, ops' base, epilogue data, Graph)
    fs        <- ir
    backend   <- ir, fs                       (target, kernel, emit, templates, nvcc, codegen)
    ops       <- ir, backend                  (each family: op, reference, emitter, kernels)
    frontend  <- ir, ops
    passes    <- ir, ops
    runtime   <- ir, fs                       (the CUDA Model and the numpy reference executor)
    tune      <- ir, fs, backend
    compiler  <- ir, fs, backend, passes, runtime, tune
    cli       <- ir, backend
    ait       <- anything (the public names)

Nothing in ait imports the example layer (modeling, weight_utils, the scripts).
backend, tune and compiler import no op family: they loop over the op-family registry
(ait.backend.family), which each family folder registers itself in. PENDING, the family imports
still allowed there, is empty and may only shrink.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AIT = ROOT / "ait"

ALLOWED = {
    "ir": set(),
    "fs": {"ir"},
    "backend": {"ir", "fs"},
    "ops": {"ir", "backend"},
    "frontend": {"ir", "ops"},
    "passes": {"ir", "ops"},
    "runtime": {"ir", "fs"},
    "tune": {"ir", "fs", "backend"},
    "compiler": {"ir", "fs", "backend", "passes", "runtime", "tune"},
    "cli": {"ir", "backend"},
}
# (importing module, imported ait.ops.<family>): the family's name spelled out in a layer
# that should loop over the op-family registry (ait.backend.family) instead. Empty since the
# registry landed (issue 9, item 1); it may only shrink, so it stays empty.
PENDING: set[tuple[str, str]] = set()
EXAMPLE_LAYER = {"modeling", "weight_utils", "bench_utils", "benchmark_ait", "benchmark_pt",
                 "infer_with_torch", "infer_with_numpy", "serve_resnet", "bench_serve"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    parts = name.split(".")
    if parts[0] != "ait":
        return False
    p = ROOT.joinpath(*parts)
    return p.with_suffix(".py").is_file() or (p / "__init__.py").is_file()


def imports(path: Path) -> set[str]:
    """Every module `path` imports, absolute, wherever in the file the import stands."""
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from ait.ops import conv2d` imports ait.ops.conv2d, `from ait import fs` ait.fs
            subs = {f"{target}.{a.name}" for a in node.names if _is_module(f"{target}.{a.name}")}
            out |= subs or {target}
    return out


def layer(mod: str) -> str | None:
    parts = mod.split(".")
    return parts[1] if parts[0] == "ait" and len(parts) > 1 else ("ait" if mod == "ait" else None)


def family(mod: str) -> str | None:
    parts = mod.split(".")
    return ".".join(parts[:3]) if parts[:2] == ["ait", "ops"] and len(parts) > 2 \
        and (AIT / "ops" / parts[2]).is_dir() else None


def edges() -> list[tuple[str, str]]:
    return sorted((module_name(p), imp) for p in AIT.rglob("*.py") for imp in imports(p))


def test_every_package_has_a_rule():
    packages = {p.name for p in AIT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    packages |= {p.stem for p in AIT.glob("*.py") if p.stem != "__init__"}
    packages |= {p.name for p in AIT.iterdir() if p.is_dir() and any(p.glob("*.py"))}
    assert packages == set(ALLOWED), "a new package of ait needs its place in ALLOWED"


def test_imports_go_down_the_stack():
    bad = []
    for src, imp in edges():
        a, b = layer(src), layer(imp)
        if b is None or a == "ait" or a == b or (src, family(imp)) in PENDING:
            continue
        if b not in ALLOWED[a]:
            bad.append(f"{src} imports {imp} ({a} may import {sorted(ALLOWED[a]) or 'nothing'})")
    assert not bad, "\n".join(bad)


def test_no_new_op_family_names_in_backend_tune_compiler():
    found = {(src, family(imp)) for src, imp in edges()
             if layer(src) in ("backend", "tune", "compiler") and family(imp)}
    assert found <= PENDING, f"new op-family import(s): {sorted(found - PENDING)}"
    assert PENDING <= found, f"gone, drop from PENDING: {sorted(PENDING - found)}"


def test_the_library_does_not_import_the_examples():
    bad = [(src, imp) for src, imp in edges() if imp.split(".")[0] in EXAMPLE_LAYER]
    assert not bad, bad


def test_the_checker_sees_function_level_imports():
    # compile_model imports the tuner and the runtime inside its functions only
    found = imports(AIT / "compiler" / "compile_model.py")
    assert {"ait.tune", "ait.runtime.model"} <= found
    assert layer("ait.ops.conv2d.op") == "ops" and family("ait.ops.conv2d.op") == "ait.ops.conv2d"
    assert family("ait.ops.epilogue") is None
