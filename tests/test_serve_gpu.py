"""serve_resnet.py's batch handler on the compiled GPU model (the same code a Ray Serve replica
calls) against the numpy reference executor; no Ray needed. Prints what one replica's model
costs in GPU memory beyond the CUDA context."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.test_serve import _picture, encode, npy

pytestmark = pytest.mark.gpu
torch = pytest.importorskip("torch")
timm = pytest.importorskip("timm")

WORKDIR = os.environ.get("AIT_TEST_WORKDIR", str(ROOT / "tmp" / "tests"))
MODEL, MAX_BATCH = "resnet18", 32


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    from modeling.resnet import create_resnet
    from weight_utils import save_weights, timm_resnet, timm_to_ait

    tm = timm_resnet(MODEL)
    return save_weights(timm_to_ait(tm, create_resnet(MODEL), "float16"),
                        tmp_path_factory.mktemp("serve_gpu") / "resnet18.npz")


@pytest.fixture(scope="module")
def handlers(weights):
    """(gpu handler, reference handler, GPU MiB the model took)."""
    from modeling.serving import BatchHandler, GpuBackend, ReferenceBackend, ServeConfig

    cfg = ServeConfig(model=MODEL, weights=str(weights), backend="gpu", max_batch=MAX_BATCH,
                      workdir=WORKDIR)
    torch.cuda.init()
    torch.cuda.synchronize()
    free0 = torch.cuda.mem_get_info()[0]
    gpu = GpuBackend(cfg)
    gpu(np.zeros((MAX_BATCH, 224, 224, 3), np.float32))  # workspace and graph at max batch
    torch.cuda.synchronize()
    mib = (free0 - torch.cuda.mem_get_info()[0]) / 2**20
    print(f"\n[serve] {MODEL} replica model (max batch {MAX_BATCH}): {mib:.0f} MiB of GPU "
          f"memory beyond the CUDA context", flush=True)
    ref = ReferenceBackend(ServeConfig(model=MODEL, weights=str(weights), backend="reference",
                                       max_batch=MAX_BATCH))
    yield BatchHandler(gpu), BatchHandler(ref), mib
    gpu.model.close()


def _requests():
    bodies = [(encode(_picture(i, 240, 300), "JPEG" if i % 2 else "PNG"),
               "image/jpeg" if i % 2 else "image/png") for i in range(6)]
    rng = np.random.default_rng(3)
    bodies.append((npy(rng.standard_normal((5, 224, 224, 3)).astype(np.float32)),
                   "application/x-npy"))
    return bodies


def _compare(gpu_replies, ref_replies):
    for g, r in zip(gpu_replies, ref_replies):
        assert g.status == 200 and r.status == 200, (g.body, r.body)
        assert g.body["batch_size"] == r.body["batch_size"]
        for gp, rp in zip(g.body["predictions"], r.body["predictions"]):
            # fp16 against fp32: the top class where the reference has a clear winner
            if rp["probs"][0] - rp["probs"][1] > 0.02:
                assert gp["classes"][0] == rp["classes"][0], (gp, rp)
            np.testing.assert_allclose(gp["probs"][0], rp["probs"][0], atol=1e-2)


@pytest.mark.parametrize("path", ["torch", "ait_data"])
def test_batch_handler_on_gpu_matches_reference(handlers, path):
    gpu, ref, _ = handlers
    backend = gpu.backend
    saved = backend.torch
    if path == "ait_data":
        backend.torch = None  # the numpy path (no torch in the replica)
    try:
        reqs = _requests()
        items_g = [gpu.decode(b, c, top=5) for b, c in reqs]
        items_r = [ref.decode(b, c, top=5) for b, c in reqs]
        g = gpu.run_batch(items_g)
        r = ref.run_batch(items_r)
    finally:
        backend.torch = saved
    assert g[0].body["batch_size"] == 11 and g[0].body["batch_requests"] == 7
    _compare(g, r)
    x = np.concatenate([i.images for i in items_g])
    out, want = backend(x), ref.backend(x)
    assert float(np.linalg.norm(out - want) / np.linalg.norm(want)) < 1e-2


def test_batches_in_flight_from_several_threads(handlers):
    """Ray runs up to num_runtimes batches of a replica at once, each from its own thread."""
    gpu, ref, _ = handlers
    rng = np.random.default_rng(5)
    batches = [[gpu.decode(npy(rng.standard_normal((n, 224, 224, 3)).astype(np.float32)),
                           "application/x-npy")] for n in (1, 3, 8, 17, 32, 2)]
    alone = [gpu.run_batch(b) for b in batches]
    together = [None] * len(batches)

    def run(i):
        together[i] = gpu.run_batch(batches[i])

    for _ in range(3):
        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for a, t in zip(alone, together):
            assert t[0].status == 200, t[0].body
            assert a[0].body["predictions"] == t[0].body["predictions"]


def test_model_failure_answers_500_and_the_handler_serves_on(handlers):
    gpu, _, _ = handlers
    huge = gpu.decode(npy(np.full((1, 224, 224, 3), 1e6, np.float32)), "application/x-npy")
    fine = gpu.decode(encode(_picture(1, 224, 224), "PNG"), "image/png")
    replies = gpu.run_batch([fine, huge])
    assert [r.status for r in replies] == [200, 500], [r.body for r in replies]
    assert gpu.run_batch([fine])[0].status == 200


def test_replica_memory_reported(handlers):
    _, _, mib = handlers
    assert mib > 10  # resnet18's fp16 weights alone are 22 MiB
