"""Time the gemm3x epilogue-tile variants (AIT_GEMM3X_EPI_VARIANTS=1, ops/conv2d/gemm3x.py)
against the default gemm3x tiles on ResNet-50's residual 1x1 convs (or, with --epilogue
bias_relu, the bottlenecks' first, reducing 1x1 convs), through the compiler's
own profiler path (ait.tune.select.profile_requests: the same objects, profiler main, fp32
reference check and CUDA-graph timing that kernel selection uses).

    PYTHONPATH=. python scripts/dev/epi_bench.py [--out DIR] [--batches 128,256]
        [--epilogue bias_add_relu|bias_relu] [--dry-run]

--dry-run lists the requests and candidates only (no nvcc, no GPU). Writes DIR/epi_table.txt
and DIR/epi_results.json (with --epilogue bias_relu: epi_table_bias_relu.txt, ...); the
table is also printed.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ["AIT_GEMM3X_EPI_VARIANTS"] = "1"  # before any candidate list is made
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ait.backend.target import Target, detect_target  # noqa: E402
from ait.ir.epilogue import BIAS_ADD_RELU, BIAS_RELU  # noqa: E402
from ait.ops.conv2d import ConvRequest, gemm3x  # noqa: E402
from ait.tune.candidates import all_candidates_for  # noqa: E402

# ResNet-50's residual 1x1 convs (the bottleneck's last conv): name: (h = w, c, k)
LAYERS = {"layer1": (56, 64, 256), "layer2": (28, 128, 512), "layer3": (14, 256, 1024),
          "layer4": (7, 512, 2048)}
# and their first, reducing 1x1 convs (bias + ReLU, no residual), but each stage's first
REDUCE = {"layer1": (56, 256, 64), "layer2": (28, 512, 128), "layer3": (14, 1024, 256),
          "layer4": (7, 2048, 512)}
EPILOGUES = {"bias_add_relu": (BIAS_ADD_RELU, LAYERS), "bias_relu": (BIAS_RELU, REDUCE)}
T0 = time.perf_counter()


def el(msg: str) -> None:
    print(f"[epi_bench +{time.perf_counter() - T0:.0f}s] {msg}", flush=True)


def request(ep, batch: int, hw: int, c: int, k: int) -> ConvRequest:
    return ConvRequest.of(ep, batch, hw, hw, c, k, 1, 1, (0, 0), (1, 1))


def gemm_candidates(target: Target, req: ConvRequest) -> list[gemm3x.Conv2dGemm3x]:
    """The pointwise gemm3x candidates of the compiler's (unpruned) list: the defaults (a
    kernel's default may have its MEASURED_EPI subtile), then the variants (those
    equal to a default appear once)."""
    out = [c for c in all_candidates_for(target, req)
           if isinstance(c, gemm3x.Conv2dGemm3x) and not c.strided]
    defaults = [c for c in out if c.tile.epi is None]
    assert [c.tile for c in defaults] == list(gemm3x.TILES), [c.name for c in out]
    return out


def short(name: str) -> str:
    """conv2d_gemm3x_128x128x64_c1x1_pp_e64x64_bias_add_relu_f32 -> 128x128_pp_e64x64"""
    tile, rest = name.removeprefix("conv2d_gemm3x_").split("_c1x1_")
    return f"{tile.rsplit('x', 1)[0]}_{rest.split('_bias')[0]}"


def traffic_bytes(residual: bool, batch: int, hw: int, c: int, k: int) -> int:
    """x + w + bias (+ residual) + y, fp16, each once."""
    m = batch * hw * hw
    return 2 * (m * c + k * c + k + (2 if residual else 1) * m * k)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.environ.get("OUT", "tmp/out"))
    ap.add_argument("--batches", default="128,256")
    ap.add_argument("--epilogue", choices=sorted(EPILOGUES), default="bias_add_relu")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    batches = [int(b) for b in args.batches.split(",")]
    target = Target.for_arch(90) if args.dry_run else detect_target()
    el(f"target sm_{target.arch} acc {target.acc}")
    ep, shapes = EPILOGUES[args.epilogue]
    reqs = {(layer, n): request(ep, n, *shapes[layer]) for layer in shapes for n in batches}
    cands = {r: gemm_candidates(target, r) for r in reqs.values()}
    names = [c.name for c in next(iter(cands.values()))]
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

    bw = None
    try:
        import torch

        from bench_utils import measure_peaks
        bw = measure_peaks(torch).bytes_per_s
        el(f"measured copy bandwidth {bw / 1e12:.2f} TB/s")
    except Exception as e:  # noqa: BLE001 -- the floor column is optional
        el(f"no bandwidth probe: {type(e).__name__}: {e}")

    variant = {c.name: c.tile.epi is not None for c in next(iter(cands.values()))}
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
        floor = traffic_bytes(ep.residual, n, *shapes[layer]) / bw * 1e6 if bw else None
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
    print(f"times in us (profiler, {args.epilogue}, f32 acc); var/def < 1: a variant wins; "
          "floor: traffic / copy bandwidth (best's % of it)")
    print(table)
    tag = "" if args.epilogue == "bias_add_relu" else f"_{args.epilogue}"
    (out / f"epi_table{tag}.txt").write_text(table + "\n")
    (out / f"epi_results{tag}.json").write_text(json.dumps(
        {"target": f"sm_{target.arch} {target.acc}", "copy_bytes_per_s": bw,
         "candidates": names, "results": records}, indent=1))
    el("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
