#!/usr/bin/env python3
"""Serve a ResNet compiled by ait over HTTP with Ray Serve: one replica per GPU, each loading
the dynamic-batch model once; concurrent requests are gathered with @serve.batch and each
gathered batch runs as ONE call of the model.

    python weight_utils.py --model resnet50 --out resnet50.npz         # once (uses timm)
    python serve_resnet.py --model resnet50 --weights resnet50.npz      # one replica per GPU
    python serve_resnet.py --backend reference --model resnet18 --image-size 64   # CPU only
    curl -s -H 'Content-Type: image/jpeg' --data-binary @cat.jpg 'http://127.0.0.1:8000/?top=5'
    curl -s -H 'Content-Type: application/x-npy' --data-binary @batch.npy http://127.0.0.1:8000/
    curl -s http://127.0.0.1:8000/info

POST / takes a JPEG/PNG image (image/jpeg, image/png) or an NHWC float array ([N, H, W, 3] or
[H, W, 3], normalised; application/x-npy) and answers JSON: {"predictions": [{"classes",
"probs"} per image], "batch_size": images in the model call that served it, "batch_requests":
requests in that call, "backend"}. Bad requests answer 4xx and a model failure 5xx, each as
{"error": "<one line>"}. On a Ray cluster start it with --ray-address auto on the head node.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))

from ait import cli  # noqa: E402
from modeling import serving  # noqa: E402  (plain Python, no Ray)


def parse_args(argv=None) -> argparse.Namespace:
    from modeling.resnet import SPECS, batch_problem

    ap = cli.ArgumentParser(prog="serve_resnet.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--model", default="resnet50", choices=sorted(SPECS))
    ap.add_argument("--weights", default=None,
                    help="weights file from weight_utils.py (.npz/.safetensors); default: "
                         "random weights (fixed seed), for load tests")
    ap.add_argument("--backend", default="gpu", choices=["gpu", "reference"],
                    help="gpu: the compiled .so, one GPU per replica (default); reference: the "
                         "numpy reference executor on the CPU (no GPU needed, slow)")
    ap.add_argument("--lib", default=None,
                    help="a compiled dynamic-batch .so (gpu); default: compile or reuse "
                         "<workdir>/<artifact>/ for --model and --max-batch")
    ap.add_argument("--workdir", type=cli.workdir, default="./tmp",
                    help="where compiled models are kept (default: ./tmp; its parent must exist)")
    ap.add_argument("--num-replicas", type=int, default=None,
                    help="replicas (default: one per GPU of the Ray cluster; 1 for reference)")
    ap.add_argument("--max-batch", type=int, default=32,
                    help="most images in one model call (at most the compiled maximum)")
    ap.add_argument("--batch-wait-ms", type=float, default=5.0,
                    help="how long a batch waits for more requests after its first (ms)")
    ap.add_argument("--num-runtimes", type=cli.positive_int, default=2,
                    help="execution contexts per replica = batches in flight (gpu)")
    ap.add_argument("--no-graph", action="store_true",
                    help="gpu: launch kernels one by one instead of replaying CUDA graphs")
    ap.add_argument("--image-size", type=cli.positive_int, default=224)
    ap.add_argument("--num-classes", type=cli.positive_int, default=1000,
                    help="classes without a weights file (a weights file says its own)")
    ap.add_argument("--top", type=cli.positive_int, default=5,
                    help="classes per image unless ?top=K says")
    ap.add_argument("--host", default="127.0.0.1",
                    help="HTTP address (default 127.0.0.1; 0.0.0.0 to serve other machines)")
    ap.add_argument("--port", type=cli.port, default=8000, help="HTTP port, 1-65535 (8000)")
    ap.add_argument("--ray-address", default=None,
                    help="a running Ray cluster ('auto' or HEAD:6379); default: start a local "
                         "Ray instance on 127.0.0.1 for this process")
    args = ap.parse_args(argv)
    if args.max_batch < 1:
        ap.error("--max-batch must be at least 1")
    if (why := batch_problem("--max-batch", args.max_batch, args.image_size)) is not None:
        ap.error(why)
    if not 0 <= args.batch_wait_ms < float("inf"):  # NaN too
        ap.error(f"--batch-wait-ms must be a finite number >= 0, got {args.batch_wait_ms:g}")
    if args.num_replicas is not None and args.num_replicas < 1:
        ap.error("--num-replicas must be at least 1")
    return args


def config_from_args(args) -> serving.ServeConfig:
    return serving.ServeConfig(
        model=args.model, weights=args.weights, backend=args.backend, max_batch=args.max_batch,
        batch_wait_ms=args.batch_wait_ms, image_size=args.image_size,
        num_classes=args.num_classes, lib=args.lib, workdir=str(Path(args.workdir).resolve()),
        num_runtimes=args.num_runtimes, default_top=args.top, graph_mode=not args.no_graph)


def _runtime_env() -> dict:
    """Replicas import ``modeling`` and ``ait`` from this checkout (on a cluster, every node
    needs the checkout at the same path, and the same virtual environment)."""
    path = os.pathsep.join(p for p in (str(REPO_DIR), os.environ.get("PYTHONPATH")) if p)
    return {"env_vars": {"PYTHONPATH": path, "RAY_USAGE_STATS_ENABLED": "0"}}


def build_app(cfg: serving.ServeConfig, num_replicas: int = 1):
    """The Ray Serve application: a deployment whose replicas each hold one BatchHandler."""
    from ray import serve
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    in_flight = cfg.batches_in_flight
    gpus = 1 if cfg.backend == "gpu" else 0

    @serve.deployment(
        name="ResNet", num_replicas=num_replicas,
        ray_actor_options={"num_gpus": gpus, "num_cpus": 1, "runtime_env": _runtime_env()},
        # enough requests per replica to fill every batch in flight, and the next ones
        max_ongoing_requests=max(16, 2 * cfg.max_batch * in_flight))
    class ResNetServer:
        def __init__(self, cfg: serving.ServeConfig):
            self.handler = serving.BatchHandler(serving.make_backend(cfg), cfg.default_top)

        @serve.batch(max_batch_size=cfg.max_batch,
                     batch_wait_timeout_s=cfg.batch_wait_ms / 1000.0,
                     max_concurrent_batches=in_flight, batch_size_fn=serving.item_count)
        async def batched(self, items: list[serving.Item]) -> list[serving.Reply]:
            # in a thread: the event loop keeps gathering the next batch meanwhile
            return await asyncio.to_thread(self.handler.run_batch, items)

        async def __call__(self, request: Request):
            path = request.url.path.rstrip("/")
            if request.method == "GET" and path.endswith("/info"):
                return JSONResponse(self.handler.info())
            if request.method != "POST":
                return JSONResponse({"error": f"{request.method} is not served: POST an image "
                                              "or an .npy array (GET /info for the model)"},
                                    status_code=405)
            try:  # decoding in a thread too: the loop goes on taking requests
                item = await asyncio.to_thread(self.handler.decode, await request.body(),
                                               request.headers.get("content-type"),
                                               request.query_params.get("top"))
            except serving.RequestError as e:
                return JSONResponse({"error": str(e)}, status_code=e.status)
            reply = await self.batched(item)
            return JSONResponse(reply.body, status_code=reply.status)

    return ResNetServer.bind(cfg)


def _gpus_in_cluster(ray) -> int:
    return int(ray.cluster_resources().get("GPU", 0))


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = config_from_args(args)
    serving.check_files(cfg)  # before Ray starts: a bad file is named here, in one line
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reports leave the machine
    if not args.ray_address:
        # a one-node instance: Ray then keeps its own addresses on loopback as well (without
        # this it swaps 127.0.0.1 for the machine's address, to be reachable by other nodes)
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray
    from ray import serve

    if args.ray_address:
        ray.init(address=args.ray_address, log_to_driver=True)
    else:  # a local instance for this process only, on loopback
        ray.init(include_dashboard=False, _node_ip_address="127.0.0.1")
    try:
        replicas = args.num_replicas
        if replicas is None:
            replicas = _gpus_in_cluster(ray) if cfg.backend == "gpu" else 1
            if replicas < 1:
                print("serve_resnet.py: error: the Ray cluster has no GPU (use --backend "
                      "reference on a CPU machine)", file=sys.stderr)
                return 1
        serve.start(http_options={"host": args.host, "port": args.port})
        serve.run(build_app(cfg, replicas), name="resnet", route_prefix="/")
        print(f"serving {cfg.model} ({cfg.backend}, {replicas} replica(s), batch up to "
              f"{cfg.max_batch}, wait {cfg.batch_wait_ms:g} ms) at "
              f"http://{args.host}:{args.port}/  (Ctrl-C stops)", flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.wait(1.0):
            pass
        print("stopping", flush=True)
    finally:
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main, "serve_resnet.py"))
