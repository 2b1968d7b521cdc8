"""CPU only, no subprocesses: the scripts' bad arguments are refused at parse time with exit 2
and one line naming the flag and the problem (ait/cli.py's shared argument types)."""
from __future__ import annotations

import re
import sys

import pytest

import benchmark_ait
import infer_with_numpy
import infer_with_torch
import serve_resnet


def _parsers():
    return {
        "infer_with_numpy.py": lambda a: infer_with_numpy.parse_args(["--weights", "w.npz", *a]),
        "infer_with_torch.py": infer_with_torch.parse_args,
        "serve_resnet.py": serve_resnet.parse_args,
        "benchmark_ait.py": lambda a: benchmark_ait.build_parser().parse_args(a),
    }


def _refused(parse, argv, capsys, *needles):
    with pytest.raises(SystemExit) as exc:
        parse(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


# -- --workdir: one convention for every script ---------------------------------------------
@pytest.mark.parametrize("script", sorted(_parsers()))
def test_a_workdir_under_a_missing_parent_is_refused_and_not_created(script, tmp_path, capsys):
    missing = tmp_path / "nonexist"
    _refused(_parsers()[script], ["--workdir", str(missing / "w")], capsys,
             "--workdir", f"parent directory {missing} does not exist")
    assert not missing.exists()  # nothing made behind the user's back


@pytest.mark.parametrize("script", sorted(_parsers()))
def test_a_workdir_that_is_a_file_or_under_a_file_is_refused(script, tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    _refused(_parsers()[script], ["--workdir", str(tmp_path / "afile")], capsys,
             "--workdir", "not a directory")
    _refused(_parsers()[script], ["--workdir", str(tmp_path / "afile" / "w")], capsys,
             "--workdir", "is not a directory")


@pytest.mark.parametrize("script", sorted(_parsers()))
def test_a_new_workdir_in_an_existing_dir_or_an_existing_one_is_accepted(script, tmp_path):
    parse = _parsers()[script]
    assert str(parse(["--workdir", str(tmp_path / "new")]).workdir) == str(tmp_path / "new")
    assert not (tmp_path / "new").exists()  # made when the run needs it, not while parsing
    assert str(parse(["--workdir", str(tmp_path)]).workdir) == str(tmp_path)


# -- batch sizes: checked against what a ResNet takes, before anything is allocated ----------
def test_max_batch_is_the_int32_bound_of_the_largest_activation():
    from modeling.resnet import INDEX_LIMIT, max_batch

    assert max_batch(224) == INDEX_LIMIT // (64 * 112 * 112) == 2674
    assert max_batch(448) == 668 and max_batch(225) == INDEX_LIMIT // (64 * 113 * 113)
    assert max_batch(100000) == 1  # never 0: one image is always tried (and may still fail)


@pytest.mark.parametrize("script, argv, flag", [
    ("infer_with_torch.py", ["--batch-size", "100000"], "--batch-size 100000"),
    ("infer_with_torch.py", ["--max-batch", "2675"], "--max-batch 2675"),
    ("infer_with_numpy.py", ["--max-batch", "100000"], "--max-batch 100000"),
    ("serve_resnet.py", ["--max-batch", "2675"], "--max-batch 2675"),
    ("serve_resnet.py", ["--max-batch", "700", "--image-size", "448"], "--max-batch 700"),
    ("benchmark_ait.py", ["--batch-size", "1,100000"], "--batch-size 100000"),
    ("benchmark_ait.py", ["--batch-size", "8", "--batch-range", "1,3000"],
     "--batch-range HI 3000"),
    ("benchmark_ait.py", ["--batch-size", "1000", "--image-size", "448"], "--batch-size 1000"),
])
def test_a_batch_over_the_bound_is_refused_at_parse_time(script, argv, flag, capsys):
    parse = dict(_parsers(), **{"benchmark_ait.py": benchmark_ait.parse_args})[script]
    _refused(parse, argv, capsys, flag, "is larger than a ResNet at", "at most")


def test_benchmark_pt_refuses_a_batch_over_the_bound(capsys):
    import bench_utils as bu
    import benchmark_pt

    _refused(lambda a: bu.parse_checked(benchmark_pt.build_parser(), a),
             ["--batch-size", "100000"], capsys, "--batch-size 100000", "at most 2674")
    assert bu.parse_checked(benchmark_pt.build_parser(), ["--batch-size", "2674"]).batch_size \
        == (2674,)


def test_batches_at_the_bound_are_accepted():
    assert infer_with_torch.parse_args(["--batch-size", "2674"]).batch_size == 2674
    assert serve_resnet.parse_args(["--max-batch", "2674"]).max_batch == 2674
    assert benchmark_ait.parse_args(["--batch-range", "1,2674"]).batch_range == (1, 2674)


def test_infer_with_numpy_refuses_an_input_batch_over_the_bound_before_reading_it(tmp_path):
    """The .npy's header says its batch: refused before its data is read (a sparse file here,
    1.6 GB that are never touched)."""
    import numpy as np

    from ait import AitError

    path = tmp_path / "big.npy"
    x = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(2675, 224, 224, 3))
    del x
    args = infer_with_numpy.parse_args(["--weights", "w.npz", "--input", str(path)])
    with pytest.raises(AitError, match=rf"--input {path}: a batch of 2675 is larger than .*"
                                       r"\(at most 2674"):
        infer_with_numpy.load_batch(args)


# -- serve_resnet.py --port and other numbers ------------------------------------------------
@pytest.mark.parametrize("value, words", [
    ("-1", "expected a port number 1-65535, got '-1'"),
    ("65536", "expected a port number 1-65535, got '65536'"),
    ("http", "expected a port number 1-65535, got 'http'"),
    ("0", "port 0 (any free port) is not served"),
])
def test_a_bad_port_is_refused(value, words, capsys):
    _refused(serve_resnet.parse_args, ["--port", value], capsys, "--port", words)


def test_ports_in_range_are_accepted():
    assert serve_resnet.parse_args(["--port", "1"]).port == 1
    assert serve_resnet.parse_args(["--port", "65535"]).port == 65535
    assert serve_resnet.parse_args([]).port == 8000


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_serve_batch_wait_must_be_finite_and_not_negative(value, capsys):
    _refused(serve_resnet.parse_args, ["--batch-wait-ms", value], capsys,
             "--batch-wait-ms must be a finite number >= 0")


# -- bench_serve.py ----------------------------------------------------------------------------
@pytest.mark.parametrize("argv, words", [
    (["--concurrency", "0"], "invalid client count '0'"),    # was read as the batch sweep
    (["--concurrency", "all"], "invalid client count 'all'"),
    (["--seconds", "nan"], "--seconds: expected a positive finite number"),
    (["--seconds", "0"], "--seconds: expected a positive finite number"),
    (["--timeout", "0"], "--timeout: expected a positive finite number"),
    (["--timeout", "-5"], "--timeout: expected a positive finite number"),
])
def test_bench_serve_refuses_bad_numbers(argv, words, capsys):
    import bench_serve

    _refused(bench_serve.build_parser().parse_args, argv, capsys, words)


def test_bench_serve_refuses_more_images_per_request_than_the_server_takes(monkeypatch,
                                                                            tmp_path):
    import bench_serve
    import bench_utils as bu

    monkeypatch.setattr(bench_serve, "get_info", lambda url, timeout: {"max_batch": 32,
                                                                         "image_size": 224})
    made = []
    monkeypatch.setattr(bench_serve, "make_payload", lambda *a: made.append(a))
    with pytest.raises(bu.BenchError, match=r"--images-per-request 33 is more than the server "
                                            r"takes in one call \(32"):
        bench_serve.main(["--images-per-request", "33", "--results-dir", str(tmp_path)])
    assert not made  # refused before the payload (K images) is made


@pytest.mark.parametrize("url", ["notaurl", "ftp://host/", "http://127.0.0.1:99999/",
                                 "http://127.0.0.1:x/", "http://:8000/"])
def test_bench_serve_refuses_a_bad_url_at_parse_time(url, capsys):
    import bench_serve

    _refused(bench_serve.build_parser().parse_args, ["--url", url], capsys,
             "--url: expected http://HOST:PORT/ (a port 1-65535)", repr(url))


def test_bench_serve_names_an_unreachable_server(tmp_path):
    import socket

    import bench_serve
    import bench_utils as bu

    with socket.socket() as s:  # a port that nothing listens on: bound, never listened to
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/"
        with pytest.raises(bu.BenchError, match=rf"cannot reach the server at {url} \(.*\); "
                                                r"is serve_resnet.py running there\?"):
            bench_serve.main(["--url", url, "--timeout", "2", "--results-dir", str(tmp_path)])


@pytest.mark.parametrize("status, body, words", [
    (404, b"<html>not found</html>", "answered 404, not serve_resnet.py's info"),
    (200, b"hello", "not serve_resnet.py's info (a JSON object with image_size"),
    (200, b'{"image_size": 224}', "not serve_resnet.py's info"),
])
def test_bench_serve_names_a_server_that_is_not_ours(monkeypatch, status, body, words):
    import bench_serve
    import bench_utils as bu

    monkeypatch.setattr(bench_serve, "_request", lambda *a, **k: (status, body))
    with pytest.raises(bu.BenchError, match=re.escape(words)):
        bench_serve.get_info("http://127.0.0.1:8000/")


def test_bench_serve_checks_its_files_before_the_server(tmp_path, monkeypatch):
    import bench_serve
    import bench_utils as bu

    asked = []
    monkeypatch.setattr(bench_serve, "get_info", lambda *a: asked.append(a))
    with pytest.raises(bu.BenchError, match=f"--image {tmp_path / 'x.jpg'} does not exist"):
        bench_serve.main(["--image", str(tmp_path / "x.jpg"), "--results-dir", str(tmp_path)])
    assert not asked


@pytest.mark.parametrize("flag, content, words", [
    ("--weights", None, "weights file {p} does not exist"),
    ("--weights", b"hello\n", "weights file {p} is a text file"),
    ("--lib", None, "--lib {p} does not exist; expected a compiled model .so"),
    ("--lib", b"hello\n", "--lib {p} is not an ELF file (6 bytes)"),
])
def test_serve_resnet_names_a_bad_file_before_ray_starts(flag, content, words, tmp_path,
                                                          capsys, monkeypatch):
    from ait import cli

    monkeypatch.setitem(sys.modules, "ray", None)  # importing Ray would fail: it is not reached
    path = tmp_path / ("w.npz" if flag == "--weights" else "m.so")
    if content is not None:
        path.write_bytes(content)
    rc = cli.run(serve_resnet.main, "serve_resnet.py", [flag, str(path)])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"serve_resnet.py: error: {words.format(p=path)}"), err


@pytest.mark.parametrize("script", ["benchmark_ait.py", "benchmark_pt.py"])
def test_the_benchmarks_refuse_a_results_dir_under_a_missing_parent(script, tmp_path, capsys):
    import benchmark_pt

    parser = (benchmark_ait if script == "benchmark_ait.py" else benchmark_pt).build_parser()
    missing = tmp_path / "nonexist"
    _refused(parser.parse_args, ["--results-dir", str(missing / "r")], capsys,
             "--results-dir", f"parent directory {missing} does not exist")
    assert parser.parse_args(["--results-dir", str(tmp_path / "r")]).results_dir == \
        tmp_path / "r"
    assert not missing.exists() and not (tmp_path / "r").exists()


def test_require_writable_dir_without_create_checks_the_parent(tmp_path):
    from ait import AitError, fs

    assert fs.require_writable_dir(tmp_path / "r", "--results-dir", create=False) == \
        tmp_path / "r"
    assert not (tmp_path / "r").exists()
    (tmp_path / "f").write_text("x")
    with pytest.raises(AitError, match="--results-dir: .* is not a directory"):
        fs.require_writable_dir(tmp_path / "f" / "r", "--results-dir", create=False)
