"""One sha256 per rendered item, for checking that a refactor changes nothing the GPU runs.

    PYTHONPATH=. python scripts/dev/render_hashes.py > before.txt   # ... change ...
    PYTHONPATH=. python scripts/dev/render_hashes.py | diff before.txt -

Items, for Target.for_arch(90) and (80), float32 and float16 accumulation: every kernel
candidate (pruned or not) of every conv/gemm request of ResNet-18/50 (both stems, static and
dynamic batch) and of the tune.validate layer table, each profiler main source, and the
model.cu that codegen writes with first-fit kernels. No nvcc, no GPU.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ait.backend.codegen import generate_model_source  # noqa: E402

try:
    from ait.backend.codegen import own_sources  # noqa: E402
except ImportError:  # before the op-family registry
    from ait.backend.codegen import OWN_SOURCES  # noqa: E402

    def own_sources():
        return OWN_SOURCES
from ait.backend.emit import KernelBuckets  # noqa: E402
from ait.backend.target import Target  # noqa: E402
from ait.compiler import build_graph  # noqa: E402
from ait.compiler.compile_model import kernel_requests  # noqa: E402
from ait.tune.build import ProfilerSpec  # noqa: E402
from ait.tune.candidates import all_candidates_for, candidates_for  # noqa: E402
from modeling.resnet import STEMS, build_resnet_graph  # noqa: E402

try:
    from modeling.resnet50_layers import resnet50_requests  # noqa: E402
except ImportError:
    from ait.tune.validate import resnet50_requests  # noqa: E402  (before the table moved)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def main() -> None:
    out: dict[str, str] = {}
    targets = [Target.for_arch(a, use_fp16_acc=f16) for a in (90, 80) for f16 in (False, True)]
    graphs = []
    for name in ("resnet18", "resnet50"):
        for stem in STEMS:
            for batch in (1, (1, 256)):
                _, y = build_resnet_graph(name, batch_size=batch, stem=stem)
                graphs.append((f"{name}-{stem}-{batch}", build_graph(y)))
    for p in own_sources():
        out[f"own {p.name}"] = sha(p.read_text())
    for t in targets:
        tag = f"sm{t.arch}-{t.acc}"
        requests = {r for _, r in resnet50_requests([1, 32, 256])}
        per_graph = []
        for gname, g in graphs:
            reqs = kernel_requests(g)
            per_graph.append((gname, g, reqs))
            requests |= {r for rs in reqs.values() for _, r in rs}
        first = {}
        for r in sorted(requests, key=repr):
            cands = all_candidates_for(t, r)
            for c in cands:
                out[f"{tag} kernel {c.name}"] = sha(c.render())
            pruned = candidates_for(t, r)
            out[f"{tag} set {r!r}"] = sha("\n".join(c.name for c in pruned))
            if pruned:
                first[r] = pruned[0]
                spec = ProfilerSpec(pruned[0].family, r.epilogue, tuple(pruned))
                out[f"{tag} profiler {r!r}"] = sha(spec.main_source(t).text)
        for gname, g, reqs in per_graph:
            kernels = {uid: KernelBuckets([b for b, _ in rs], [first[r].name for _, r in rs])
                       for uid, rs in reqs.items()}
            src, meta = generate_model_source(g, "model", kernels, {
                "target": {"arch": t.arch, "use_fp16_acc": t.use_fp16_acc,
                           "cutlass": t.cutlass_version}})
            out[f"{tag} model.cu {gname}"] = sha(src)
    for k in sorted(out):
        print(k, out[k])
    print(f"# {len(out)} items, all: {sha(''.join(f'{k} {v}' for k, v in sorted(out.items())))}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
