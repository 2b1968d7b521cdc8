"""Time a kernel family's experimental variants against its default tiles on ResNet-50's convs,
through the compiler's own profiler path (ait.tune.select.profile_requests: the same objects,
profiler main, fp32 reference check and CUDA-graph timing that kernel selection uses).

  --variants epi      the gemm3x epilogue subtiles (AIT_GEMM3X_EPI_VARIANTS=1, gemm3x.py)
  --variants cluster  the 2x1 / 1x2 cluster copies (AIT_CLUSTER_VARIANTS=1) of the gemm3x
                      tiles, or with --convs 3x3 of the persistent 3.x conv tiles (conv2d_3xp)
  --convs residual    the bottlenecks' last 1x1 convs (bias + add + ReLU, the default)
  --convs reduce      their first, reducing 1x1 convs (bias + ReLU), but each stage's first
  --convs 3x3         their 3x3 stride-1 convs (bias + ReLU; persistent 3.x conv kernels)

    PYTHONPATH=. python scripts/dev/variant_bench.py [--out DIR] [--batches 128,256]
        [--variants epi|cluster] [--convs residual|reduce|3x3] [--dry-run]

--dry-run lists the requests and candidates only (no nvcc, no GPU). Writes
DIR/{variants}_table_{convs}.txt and DIR/{variants}_results_{convs}.json; the table is also
printed.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ait.backend.target import Target, detect_target  # noqa: E402
from ait.ir.epilogue import BIAS_ADD_RELU, BIAS_RELU  # noqa: E402
from ait.ops.conv2d import ConvRequest, cutlass3x, gemm3x  # noqa: E402
from ait.tune.candidates import all_candidates_for  # noqa: E402

# ResNet-50's convs per layer, name: (h = w, c, k); the 1x1 residual ones (the bottleneck's
# last conv), the reducing 1x1 ones (its first), the stride-1 3x3 ones
LAYERS = {"layer1": (56, 64, 256), "layer2": (28, 128, 512), "layer3": (14, 256, 1024),
          "layer4": (7, 512, 2048)}
REDUCE = {"layer1": (56, 256, 64), "layer2": (28, 512, 128), "layer3": (14, 1024, 256),
          "layer4": (7, 2048, 512)}
CONV3X3 = {"layer1": (56, 64, 64), "layer2": (28, 128, 128), "layer3": (14, 256, 256),
           "layer4": (7, 512, 512)}
# --convs: (epilogue, layers, filter size)
CONVS = {"residual": (BIAS_ADD_RELU, LAYERS, 1), "reduce": (BIAS_RELU, REDUCE, 1),
         "3x3": (BIAS_RELU, CONV3X3, 3)}
# --variants: (environment switch, is-a-variant test)
VARIANTS = {"epi": (gemm3x.EPI_VARIANTS_ENV, lambda c: c.tile.epi is not None),
            "cluster": (gemm3x.CLUSTER_VARIANTS_ENV, lambda c: c.tile.cluster != (1, 1))}
T0 = time.perf_counter()


def el(msg: str) -> None:
    print(f"[variant_bench +{time.perf_counter() - T0:.0f}s] {msg}", flush=True)


def request(ep, batch: int, hw: int, c: int, k: int, rs: int) -> ConvRequest:
    pad = (rs // 2, rs // 2)
    return ConvRequest.of(ep, batch, hw, hw, c, k, rs, rs, pad, (1, 1))


def family_candidates(target: Target, req: ConvRequest, rs: int) -> list:
    """The candidates of the family under test in the compiler's (unpruned) list, defaults
    first: the pointwise gemm3x kernels (a default may have its MEASURED_EPI subtile), or
    for 3x3 convs the persistent 3.x conv kernels."""
    kind = gemm3x.Conv2dGemm3x if rs == 1 else cutlass3x.Conv2dCutlass3xPersistent
    return [c for c in all_candidates_for(target, req)
            if isinstance(c, kind) and not getattr(c, "strided", False)]


def short(name: str) -> str:
    """conv2d_gemm3x_128x128x64_c1x1_pp_e64x64_bias_add_relu_f32 -> 128x128_c1x1_pp_e64x64"""
    for prefix in ("conv2d_gemm3x_", "conv2d_3xp_"):
        name = name.removeprefix(prefix)
    tile, rest = name.split("_", 1)
    return f"{tile.rsplit('x', 1)[0]}_{rest.split('_bias')[0]}"


def traffic_bytes(residual: bool, batch: int, hw: int, c: int, k: int, rs: int) -> int:
    """x + w + bias (+ residual) + y, fp16, each once (stride 1, same padding)."""
    m = batch * hw * hw
    return 2 * (m * c + k * c * rs * rs + k + (2 if residual else 1) * m * k)


def gemm_flops(batch: int, hw: int, c: int, k: int, rs: int) -> int:
    return 2 * batch * hw * hw * k * c * rs * rs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.environ.get("OUT", "tmp/out"))
    ap.add_argument("--batches", default="128,256")
    ap.add_argument("--variants", choices=sorted(VARIANTS), default="epi")
    ap.add_argument("--convs", choices=sorted(CONVS), default="residual")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    batches = [int(b) for b in args.batches.split(",")]
    target = Target.for_arch(90) if args.dry_run else detect_target()
    el(f"target sm_{target.arch} acc {target.acc}")
    env, is_variant = VARIANTS[args.variants]
    os.environ[env] = "1"  # read whenever a candidate list is made
    ep, shapes, rs = CONVS[args.convs]
    reqs = {(layer, n): request(ep, n, *shapes[layer], rs) for layer in shapes for n in batches}
    cands = {r: family_candidates(target, r, rs) for r in reqs.values()}
    # every name any request has (1x2 clusters only where K has two N tiles), first-seen order
    names = list(dict.fromkeys(c.name for cs in cands.values() for c in cs))
    variant = {c.name: is_variant(c) for cs in cands.values() for c in cs}
    for name in names:
        el(f"candidate {name}")
    if args.dry_run:
        for (layer, n), r in reqs.items():
            print(layer, n, r.describe(), len(cands[r]))
        return 0

    from ait.tune.select import profile_requests
    el(f"profiling {len(reqs)} requests x {len(names)} candidates (build + run)")
    chosen = profile_requests(target, list(reqs.values()), cands)
    el("profiling done")

    bw = flops = None
    try:
        import torch

        from bench_utils import measure_peaks
        peaks = measure_peaks(torch)
        bw, flops = peaks.bytes_per_s, peaks.flops_per_s
        el(f"measured copy bandwidth {bw / 1e12:.2f} TB/s, matmul {flops / 1e12:.0f} TFLOP/s")
    except Exception as e:  # noqa: BLE001 -- the floor column is optional
        el(f"no bandwidth probe: {type(e).__name__}: {e}")

    rows, records = [], []
    for (layer, n), r in reqs.items():
        _, _, results = chosen[r]
        got = {res.name: res for res in results}
        us = {}
        for name in names:
            res = got.get(name)
            us[name] = res.ms * 1e3 if res is not None and res.status == "ok" and res.ms else None
            records.append({"layer": layer, "batch": n, "name": name,
                            "status": res.status if res else "not run",
                            "us": us[name], "raw": res.raw if res else None})
            if us[name] is None:
                el(f"{layer} n={n} {name}: {res.status if res else 'not run'} "
                   f"{str(res.raw)[:300] if res else ''}")
        ok = [(t, nm) for nm, t in us.items() if t is not None]
        best_def = min(((t, nm) for t, nm in ok if not variant[nm]), default=None)
        best_var = min(((t, nm) for t, nm in ok if variant[nm]), default=None)
        floor = max(traffic_bytes(ep.residual, n, *shapes[layer], rs) / bw,
                    gemm_flops(n, *shapes[layer], rs) / flops) * 1e6 if bw else None
        rows.append((layer, n, us, best_def, best_var, floor, min(ok, default=None)))

    hdr = ["layer", "n"] + [short(nm) for nm in names] + ["best default", "best variant",
                                                          "var/def", "floor", "best/floor"]
    lines = ["\t".join(hdr)]
    for layer, n, us, bd, bv, floor, best in rows:
        cells = [layer, str(n)] + [f"{us[nm]:.1f}" if us[nm] is not None else "-" for nm in names]
        cells.append(f"{short(bd[1])} {bd[0]:.1f}" if bd else "-")
        cells.append(f"{short(bv[1])} {bv[0]:.1f}" if bv else "-")
        cells.append(f"{bv[0] / bd[0]:.3f}" if bd and bv else "-")
        cells.append(f"{floor:.1f}" if floor else "-")
        cells.append(f"{floor / best[0]:.0%}" if floor and best else "-")
        lines.append("\t".join(cells))
    table = "\n".join(lines)
    print(f"times in us (profiler, {args.variants} variants, {args.convs} convs, "
          f"{target.acc} acc); var/def < 1: a variant wins; floor: max(traffic / copy bandwidth, "
          "FLOPs / matmul rate) (best's % of it)")
    print(table)
    tag = f"{args.variants}_{{}}_{args.convs}"
    (out / f"{tag.format('table')}.txt").write_text(table + "\n")
    (out / f"{tag.format('results')}.json").write_text(json.dumps(
        {"target": f"sm_{target.arch} {target.acc}", "copy_bytes_per_s": bw,
         "candidates": names, "results": records}, indent=1))
    el("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
