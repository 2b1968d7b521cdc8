#!/usr/bin/env python3
"""Load generator for serve_resnet.py: N concurrent clients send images over HTTP for a fixed
number of requests (or seconds) at each concurrency; reports throughput, p50 / p99 latency and
the mean batch the server formed, and writes them as JSON (+ CSV) like the other benchmarks.

    python serve_resnet.py --model resnet50 --weights resnet50.npz &     # the server
    python bench_serve.py --concurrency 1,8,32,128 --requests 2000
    python bench_serve.py --url http://HEAD:8000/ --concurrency 64 --seconds 30
    python plot_results.py --serve                  # throughput vs concurrency

Each client keeps one HTTP connection open and sends the next request when the last one is
answered. The payload is one JPEG (a synthetic image at the server's input size, or --image)
or, with --images-per-request K, an .npy array [K, H, W, 3].
"""
from __future__ import annotations

import argparse
import http.client
import io
import json
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import bench_utils as bu
from ait import fs


def server_url(text: str) -> str:
    """argparse type of --url: http://HOST[:PORT][/PATH], the port 1-65535."""
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:  # out of range, or not a number
        port = -1
    if parts.scheme != "http" or not parts.hostname or port is not None and not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected http://HOST:PORT/ (a port 1-65535), got "
                                         f"{text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    ap = bu.ArgumentParser(prog="bench_serve.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--url", type=server_url, default="http://127.0.0.1:8000/",
                    help="the server's endpoint")
    ap.add_argument("--concurrency", type=bu.client_counts, default=(1, 4, 16),
                    metavar="N[,N...]", help="concurrent clients, one or a list (default 1,4,16)")
    stop = ap.add_mutually_exclusive_group()
    stop.add_argument("--requests", type=bu.positive_int, default=None,
                      help="requests per concurrency level (default 200)")
    stop.add_argument("--seconds", type=bu.positive_float, default=None,
                      help="seconds per concurrency level instead of a request count")
    ap.add_argument("--warmup", type=bu.nonneg_int, default=None,
                    help="requests before each level, not measured (default: 2 per client)")
    ap.add_argument("--image", type=Path, default=None, help="a JPEG/PNG file to send")
    ap.add_argument("--images-per-request", type=bu.positive_int, default=None, metavar="K",
                    help="send an .npy array of K images per request instead of a JPEG")
    ap.add_argument("--timeout", type=bu.positive_float, default=120.0, help="seconds per request")
    ap.add_argument("--results-dir", type=bu.workdir, default=Path("results"),
                    help="where the results are written (default: ./results; its parent must "
                         "exist)")
    ap.add_argument("--out-name", default=None, metavar="STEM",
                    help="file name stem (default: serve_<model>_<backend>)")
    return ap


# -- payloads ------------------------------------------------------------------------------------
def get_info(url: str, timeout: float = 30.0) -> dict:
    try:
        status, body = _request(_connect(url, timeout), "GET", _path(url).rstrip("/") + "/info")
    except OSError as e:  # refused, unknown host, timed out
        raise bu.BenchError(f"cannot reach the server at {url} ({e.strerror or e}); is "
                            "serve_resnet.py running there?") from None
    if status != 200:
        raise bu.BenchError(f"GET {url}info answered {status}, not serve_resnet.py's info "
                            f"(is it the server's URL?): {body[:80]!r}")
    try:
        info = json.loads(body)
    except ValueError:
        info = None
    if not isinstance(info, dict) or not isinstance(info.get("image_size"), int) \
            or not isinstance(info.get("max_batch"), int):
        raise bu.BenchError(f"GET {url}info answered {body[:120]!r}, not serve_resnet.py's "
                            "info (a JSON object with image_size and max_batch)")
    return info


def make_payload(info: dict, image: Path | None, k: int | None) -> tuple[bytes, str, int]:
    """(body, content type, images per request)."""
    import numpy as np

    size = int(info["image_size"])
    if k:
        from modeling.images import preprocess

        x = np.repeat(preprocess(None, size)[None], k, axis=0)
        buf = io.BytesIO()
        np.save(buf, x.astype(np.float32))
        return buf.getvalue(), "application/x-npy", k
    if image is not None:
        ctype = "image/png" if image.suffix.lower() == ".png" else "image/jpeg"
        return image.read_bytes(), ctype, 1
    from PIL import Image

    from modeling.images import synthetic_image

    buf = io.BytesIO()
    Image.fromarray((synthetic_image(size) * 255).astype(np.uint8)).save(buf, "JPEG",
                                                                         quality=90)
    return buf.getvalue(), "image/jpeg", 1


# -- HTTP --------------------------------------------------------------------------------------
def _path(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _connect(url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise bu.BenchError(f"--url {url!r}: expected http://HOST:PORT/")
    return http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)


def _request(conn, method, path, body=None, headers=None) -> tuple[int, bytes]:
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp.status, resp.read()


class Level:
    """One concurrency level: clients share a request budget (or a deadline)."""

    def __init__(self, url, body, ctype, clients, requests, seconds, timeout):
        self.url, self.body, self.ctype = url, body, ctype
        self.clients, self.requests, self.seconds, self.timeout = (clients, requests, seconds,
                                                                   timeout)
        self.lock = threading.Lock()
        self.sent = 0
        self.latencies: list[float] = []
        self.batches: list[int] = []
        self.batch_requests: list[int] = []
        self.errors: dict[str, int] = {}
        self.deadline = None

    def _take(self) -> bool:
        with self.lock:
            if self.deadline is not None:
                return time.perf_counter() < self.deadline
            if self.sent >= self.requests:
                return False
            self.sent += 1
            return True

    def _client(self, start: threading.Barrier) -> None:
        conn = _connect(self.url, self.timeout)
        path, headers = _path(self.url), {"Content-Type": self.ctype}
        start.wait()
        try:
            while self._take():
                t0 = time.perf_counter()
                try:
                    status, data = _request(conn, "POST", path, self.body, headers)
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    conn = _connect(self.url, self.timeout)
                    status, data = None, f"{type(e).__name__}: {e}".encode()
                ms = (time.perf_counter() - t0) * 1e3
                with self.lock:
                    if status == 200:
                        doc = json.loads(data)
                        self.latencies.append(ms)
                        self.batches.append(int(doc.get("batch_size", 0)))
                        self.batch_requests.append(int(doc.get("batch_requests", 0)))
                    else:
                        key = f"{status}: {data[:120].decode(errors='replace')}"
                        self.errors[key] = self.errors.get(key, 0) + 1
        finally:
            conn.close()

    def run(self) -> float:
        start = threading.Barrier(self.clients + 1)
        threads = [threading.Thread(target=self._client, args=(start,), daemon=True)
                   for _ in range(self.clients)]
        for t in threads:
            t.start()
        start.wait()
        t0 = time.perf_counter()
        if self.seconds is not None:
            with self.lock:
                self.deadline = t0 + self.seconds
        for t in threads:
            t.join()
        return time.perf_counter() - t0


def percentile(values, q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(-(-q * len(s) // 100)) - 1))]


def measure(url, body, ctype, images, clients, requests, seconds, warmup, timeout) -> dict:
    if warmup:
        Level(url, body, ctype, clients, warmup, None, timeout).run()
    level = Level(url, body, ctype, clients, requests, seconds, timeout)
    wall = level.run()
    ok = len(level.latencies)
    row = {
        "variant": "serve", "concurrency": clients, "batch_size": images,
        "requests": ok + sum(level.errors.values()), "ok": ok, "wall_s": wall,
        "rps": ok / wall if wall > 0 else float("nan"),
        "qps": ok * images / wall if wall > 0 else float("nan"),
        "latency_ms": statistics.median(level.latencies) if ok else float("nan"),
        "p50_ms": percentile(level.latencies, 50), "p99_ms": percentile(level.latencies, 99),
        "mean_ms": statistics.fmean(level.latencies) if ok else float("nan"),
        "mean_server_batch": statistics.fmean(level.batches) if ok else float("nan"),
        "max_server_batch": max(level.batches, default=0),
        "mean_batch_requests": statistics.fmean(level.batch_requests) if ok else float("nan"),
    }
    if level.errors:
        row["errors"] = level.errors
        row["error"] = f"{sum(level.errors.values())} failed request(s)"
    return row


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    requests = args.requests or (None if args.seconds else 200)
    if args.image is not None and (why := fs.not_a_file(args.image)) is not None:
        raise bu.BenchError(f"--image {args.image} {why}")  # before the server is asked
    fs.require_writable_dir(args.results_dir, f"--results-dir {args.results_dir}")
    info = get_info(args.url, args.timeout)
    k, most = args.images_per_request, int(info.get("max_batch", 0) or 0)
    if k and most and k > most:  # before the payload is made: every request would be refused
        raise bu.BenchError(f"--images-per-request {k} is more than the server takes in one "
                            f"call ({most}, its --max-batch)")
    body, ctype, images = make_payload(info, args.image, args.images_per_request)
    model, backend = info.get("model") or "resnet", info.get("backend", "?")
    stem = args.out_name or f"serve_{model}_{backend}"
    meta = bu.collect_metadata({"url": args.url, "server": info, "payload": ctype,
                                "payload_bytes": len(body), "images_per_request": images,
                                "requests_per_level": requests, "seconds_per_level": args.seconds})
    rows = []
    print(f"[serve] {model} on {backend} at {args.url}: server batch up to {info['max_batch']}",
          flush=True)
    for c in args.concurrency:
        warmup = 2 * c if args.warmup is None else args.warmup
        row = measure(args.url, body, ctype, images, c, requests, args.seconds, warmup,
                      args.timeout)
        rows.append(row)
        print(f"[serve] clients={c:<4d} {row['qps']:9.1f} im/s  p50 {row['p50_ms']:8.2f} ms  "
              f"p99 {row['p99_ms']:8.2f} ms  mean server batch {row['mean_server_batch']:.2f}"
              f"  ({row['ok']} ok" + (f", {row['error']}" if row.get("error") else "") + ")",
              flush=True)
        bu.write_results(args.results_dir, stem, "serve", model, meta, rows)
    json_path = args.results_dir / f"{stem}.json"
    print(f"[serve] wrote {json_path}", flush=True)
    return 1 if any(r.get("error") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(bu.run_main(main, "bench_serve.py"))
