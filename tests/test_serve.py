"""serve_resnet.py on the CPU: the batch handler in plain Python, then a real Ray Serve instance
on 127.0.0.1 serving a small ResNet through the numpy reference executor (--backend reference)
to concurrent HTTP clients, with every kind of bad request; and bench_serve.py against it.

The Ray test is marked `serve` (deselect with -m "not serve"); it starts and stops Ray itself."""
from __future__ import annotations

import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from tests.conftest import ROOT

MODEL, SIZE, CLASSES, MAX_BATCH = "resnet18", 64, 10, 8


# -- inputs ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A timm resnet18 with random weights (no download) and 10 classes, as a weights file."""
    pytest.importorskip("torch")
    pytest.importorskip("timm")
    from modeling.resnet import create_resnet
    from weight_utils import save_weights, timm_resnet, timm_to_ait

    tm = timm_resnet(MODEL, num_classes=CLASSES)
    params = timm_to_ait(tm, create_resnet(MODEL, CLASSES), "float32")
    return save_weights(params, tmp_path_factory.mktemp("serve") / "resnet18.npz")


def _picture(seed: int, h: int = 80, w: int = 96) -> np.ndarray:
    """A smooth random colour field with noise, uint8 HWC (an image with structure, so that
    images differ in their predictions)."""
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 255, (4, 4, 3))
    yy = np.linspace(0, 3, h)[:, None]
    xx = np.linspace(0, 3, w)[None, :]
    y0, x0 = np.floor(yy).astype(int).clip(0, 2), np.floor(xx).astype(int).clip(0, 2)
    fy, fx = (yy - y0)[..., None], (xx - x0)[..., None]
    img = (low[y0, x0] * (1 - fy) * (1 - fx) + low[y0 + 1, x0] * fy * (1 - fx)
           + low[y0, x0 + 1] * (1 - fy) * fx + low[y0 + 1, x0 + 1] * fy * fx)
    img = img + rng.normal(0, 12, img.shape)
    return img.clip(0, 255).astype(np.uint8)


def encode(img: np.ndarray, fmt: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return buf.getvalue()


def npy(x: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, x)
    return buf.getvalue()


def _payloads():
    """(body, content type, images) for the good requests: JPEGs, PNGs, .npy of 1 and 3."""
    from modeling.images import preprocess

    out = []
    for i in range(10):
        fmt = "JPEG" if i % 2 == 0 else "PNG"
        body = encode(_picture(i), fmt)
        out.append((body, f"image/{fmt.lower()}", preprocess(io.BytesIO(body), SIZE)[None]))
    rng = np.random.default_rng(7)
    for n in (1, 3):
        x = rng.standard_normal((n, SIZE, SIZE, 3)).astype(np.float32)
        out.append((npy(x if n > 1 else x[0]), "application/x-npy", x))
    return out


def _bad_requests():
    """(name, body, content type, expected status)."""
    jpeg = encode(_picture(99), "JPEG")
    png = encode(_picture(98), "PNG")
    return [
        ("not an image", b"hello, this is text and no picture", "image/jpeg", 400),
        ("truncated jpeg", jpeg[: len(jpeg) // 2], "image/jpeg", 400),
        ("truncated png", png[: len(png) // 2], "image/png", 400),
        ("wrong shape", npy(np.zeros((2, 32, 32, 3), np.float32)), "application/x-npy", 400),
        ("wrong rank", npy(np.zeros((SIZE, SIZE), np.float32)), "application/x-npy", 400),
        ("wrong dtype", npy(np.zeros((1, SIZE, SIZE, 3), np.int64)), "application/x-npy", 400),
        ("not npy", b"\x93NUMPY garbage", "application/x-npy", 400),
        ("nan", npy(np.full((1, SIZE, SIZE, 3), np.nan, np.float32)), "application/x-npy", 400),
        ("empty body", b"", "image/jpeg", 400),
        ("batch too large", npy(np.zeros((MAX_BATCH + 1, SIZE, SIZE, 3), np.float32)),
         "application/x-npy", 413),
        ("wrong content type", jpeg, "text/plain", 415),
        ("no content type", jpeg, None, 415),
    ]


def _reference_probs(weights, x: np.ndarray) -> np.ndarray:
    """The reference executor run directly (not through the handler), image by image."""
    import ait
    from modeling.resnet import build_resnet_graph, create_resnet
    from modeling.serving import softmax
    from weight_utils import load_weights

    _, y = build_resnet_graph(MODEL, (1, MAX_BATCH), SIZE, CLASSES, dtype="float32")
    params = load_weights(weights, create_resnet(MODEL, CLASSES, dtype="float32"), "float32")
    logits = np.concatenate([ait.run_reference(y, {"input0": img[None]}, params)["output0"]
                             for img in x])
    return softmax(logits.astype(np.float64))


def check_predictions(preds: list[dict], probs: np.ndarray, k: int) -> None:
    """The classes returned are the k most probable (ties within 1e-5 aside) with their
    probabilities, against the reference's."""
    assert len(preds) == len(probs)
    for p, ref in zip(preds, probs):
        assert len(p["classes"]) == len(p["probs"]) == k
        got = np.asarray(p["probs"])
        np.testing.assert_allclose(got, ref[p["classes"]], rtol=1e-4, atol=1e-6)
        assert got[-1] >= np.sort(ref)[::-1][k - 1] - 1e-5
        assert list(got) == sorted(got, reverse=True)


# -- the handler, no Ray -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def handler(weights):
    from modeling.serving import BatchHandler, ReferenceBackend, ServeConfig

    cfg = ServeConfig(model=MODEL, weights=str(weights), backend="reference",
                      max_batch=MAX_BATCH, image_size=SIZE)
    return BatchHandler(ReferenceBackend(cfg), default_top=3)


def test_handler_runs_requests_as_one_batch(handler, weights):
    goods = _payloads()[:4] + _payloads()[-1:]   # 4 images and an array of 3: 7 in one call
    items = [handler.decode(body, ctype) for body, ctype, _ in goods]
    calls = []
    real = handler.backend

    class Spy:
        name = real.name

        def __call__(self, x):
            calls.append(x.shape)
            return real(x)

    handler.backend = Spy()
    try:
        replies = handler.run_batch(items)
    finally:
        handler.backend = real
    assert calls == [(7, SIZE, SIZE, 3)]
    ref = _reference_probs(weights, np.concatenate([x for _, _, x in goods]))
    start = 0
    for reply, (_, _, x) in zip(replies, goods):
        assert reply.status == 200, reply.body
        assert reply.body["batch_size"] == 7 and reply.body["batch_requests"] == 5
        check_predictions(reply.body["predictions"], ref[start:start + len(x)], 3)
        start += len(x)


@pytest.mark.parametrize("name, body, ctype, status", _bad_requests(),
                         ids=[b[0] for b in _bad_requests()])
def test_handler_rejects_bad_request(handler, name, body, ctype, status):
    from modeling.serving import RequestError

    with pytest.raises(RequestError) as e:
        handler.decode(body, ctype)
    assert e.value.status == status
    assert str(e.value) and "\n" not in str(e.value)


def test_handler_rejects_bad_top(handler):
    from modeling.serving import RequestError

    body = encode(_picture(1), "PNG")
    for top in ("0", "11", "x"):
        with pytest.raises(RequestError) as e:
            handler.decode(body, "image/png", top)
        assert e.value.status == 400
    assert handler.decode(body, "image/png", "10").top == 10


def test_handler_answers_500_when_the_model_fails_and_keeps_serving(handler):
    item = handler.decode(npy(np.zeros((2, SIZE, SIZE, 3), np.float32)), "application/x-npy")
    real = handler.backend

    class Broken:
        name = "reference"

        def __call__(self, x):
            raise RuntimeError("CUDA error: an illegal memory access was encountered\nmore")

    handler.backend = Broken()
    try:
        replies = handler.run_batch([item, item])
    finally:
        handler.backend = real
    assert [r.status for r in replies] == [500, 500]
    assert "illegal memory access" in replies[0].body["error"]
    assert "\n" not in replies[0].body["error"]
    assert [r.status for r in handler.run_batch([item])] == [200]


def test_handler_non_finite_logits_fail_only_their_request(handler):
    good = handler.decode(npy(np.zeros((1, SIZE, SIZE, 3), np.float32)), "application/x-npy")
    huge = handler.decode(npy(np.full((1, SIZE, SIZE, 3), 3e38, np.float32)),
                          "application/x-npy")
    with np.errstate(all="ignore"):
        replies = handler.run_batch([good, huge, good])
    assert [r.status for r in replies] == [200, 500, 200]
    assert "non-finite" in replies[1].body["error"]


def test_serve_help():
    r = subprocess.run([sys.executable, str(ROOT / "serve_resnet.py"), "--help"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    for opt in ("--model", "--weights", "--backend", "--num-replicas", "--max-batch",
                "--batch-wait-ms", "--host", "--port", "--ray-address"):
        assert opt in r.stdout


# -- a real Ray Serve instance -------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port, body, ctype, path="/", timeout=120):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": ctype} if ctype else {}
        conn.request("POST", path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        conn.close()


def get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        conn.close()


@pytest.fixture(scope="module")
def server(weights, tmp_path_factory):
    """serve_resnet.py --backend reference on 127.0.0.1, stopped (Ray with it) at the end."""
    pytest.importorskip("ray.serve", reason="ray[serve] is in requirements-ci.txt")
    port = _free_port()
    log = tmp_path_factory.mktemp("serve_log") / "serve.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    cmd = [sys.executable, str(ROOT / "serve_resnet.py"), "--backend", "reference",
           "--model", MODEL, "--image-size", str(SIZE), "--weights", str(weights),
           "--max-batch", str(MAX_BATCH), "--batch-wait-ms", "150", "--top", "3",
           "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                pytest.fail(f"serve_resnet.py exited with {proc.returncode}:\n"
                            f"{log.read_text()[-4000:]}")
            try:
                if get(port, "/info")[0] == 200:
                    break
            except (OSError, http.client.HTTPException, ValueError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server did not come up in 240 s:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # the script shuts Serve and Ray down
            try:
                proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # its own process group (this test's)
                proc.wait(timeout=30)


def _concurrently(jobs):
    """Run the callables at once (a barrier releases them together); their results in order."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(i, job):
        barrier.wait()
        try:
            results[i] = job()
        except Exception as e:  # noqa: BLE001 - reported by the assertions
            results[i] = e

    threads = [threading.Thread(target=run, args=(i, j)) for i, j in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return results


@pytest.mark.serve
def test_ray_serve_batches_concurrent_clients_and_rejects_bad_requests(server, weights):
    port, proc = server
    status, info = get(port, "/info")
    assert info["backend"] == "reference" and info["max_batch"] == MAX_BATCH
    assert info["num_classes"] == CLASSES and info["image_size"] == SIZE
    goods = _payloads()
    bads = _bad_requests()
    ref = _reference_probs(weights, np.concatenate([x for _, _, x in goods]))
    jobs = [lambda b=b, c=c: post(port, b, c) for b, c, _ in goods]
    jobs += [lambda b=b, c=c: post(port, b, c) for _, b, c, _ in bads]
    results = _concurrently(jobs)

    start, batches = 0, []
    for (body, ctype, x), res in zip(goods, results[:len(goods)]):
        assert not isinstance(res, Exception), res
        status, doc = res
        assert status == 200, doc
        check_predictions(doc["predictions"], ref[start:start + len(x)], 3)
        start += len(x)
        assert 1 <= doc["batch_size"] <= MAX_BATCH and doc["batch_requests"] >= 1
        batches.append((doc["batch_size"], doc["batch_requests"]))
    # 12 good requests at once, 150 ms to gather: some were answered from one model call
    assert max(r for _, r in batches) >= 2, batches
    for (name, _, _, want), res in zip(bads, results[len(goods):]):
        assert not isinstance(res, Exception), (name, res)
        status, doc = res
        assert status == want, (name, status, doc)
        assert isinstance(doc, dict) and doc["error"] and "\n" not in doc["error"], name

    # a model call that fails (logits overflow): 5xx with the reason, and the replica stays up
    status, doc = post(port, npy(np.full((1, SIZE, SIZE, 3), 3e38, np.float32)),
                       "application/x-npy")
    assert status == 500 and "model call failed" in doc["error"], doc
    body, ctype, x = goods[0]
    status, doc = post(port, body, ctype, path="/?top=5")
    assert status == 200 and len(doc["predictions"][0]["classes"]) == 5
    check_predictions(doc["predictions"], ref[:1], 5)
    assert get(port, "/info")[1]["batches"] >= 2
    assert proc.poll() is None


@pytest.mark.serve
def test_bench_serve_against_the_server(server, tmp_path):
    import bench_utils as bu

    port, _ = server
    r = subprocess.run([sys.executable, str(ROOT / "bench_serve.py"),
                        "--url", f"http://127.0.0.1:{port}/", "--concurrency", "1,6",
                        "--requests", "12", "--warmup", "1", "--results-dir", str(tmp_path),
                        "--out-name", "serve"], capture_output=True, text=True, timeout=300,
                       cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    doc = bu.read_results(tmp_path / "serve.json")
    assert doc["kind"] == "serve" and doc["model"] == MODEL
    rows = {row["concurrency"]: row for row in doc["rows"]}
    assert set(rows) == {1, 6}
    for row in rows.values():
        assert row["ok"] == 12 and row["qps"] > 0 and row["p99_ms"] >= row["p50_ms"] > 0
    assert rows[1]["mean_server_batch"] == 1
    assert rows[6]["max_server_batch"] >= 2  # six clients, 150 ms to gather
    plot = subprocess.run([sys.executable, str(ROOT / "plot_results.py"), "--serve",
                           "--results-dir", str(tmp_path), "--out", str(tmp_path / "s.png")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert plot.returncode == 0, plot.stdout + plot.stderr
    assert (tmp_path / "s.png").stat().st_size > 0
