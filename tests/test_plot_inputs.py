"""CPU only: plot_results.py on a missing, empty, cut-short or malformed results file or dir
says which file and what is wrong, in one line each (exit 1), never a traceback; the results
files' rows are checked where they are read (bench_utils.read_results)."""
from __future__ import annotations

import json
import sys

import pytest

import bench_utils as bu
import plot_results


def _plot(monkeypatch, capsys, *argv):
    monkeypatch.setattr(sys, "argv", ["plot_results.py", *map(str, argv)])
    rc = bu.run_main(plot_results.main, "plot_results.py")
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return rc, out.err.strip().splitlines()


def _doc(kind="ait", **over):
    row = ({"variant": "serve", "concurrency": 4, "latency_ms": 2.0, "qps": 10.0,
            "p50_ms": 2.0, "p99_ms": 3.0} if kind == "serve" else
           {"variant": "ait", "batch_size": 8, "latency_ms": 1.0, "qps": 8000.0})
    doc = {"schema": bu.SCHEMA, "kind": kind, "model": "resnet50", "metadata": {},
           "rows": [row]}
    for key, value in over.items():
        if key.startswith("row_"):
            row[key[4:]] = value
            if value is ...:
                del row[key[4:]]
        else:
            doc[key] = value
    return json.dumps(doc)


@pytest.mark.parametrize("where, why", [("missing", "does not exist"),
                                        ("file", "is not a directory")])
@pytest.mark.parametrize("serve, run", [((), "benchmark_pt.py and benchmark_ait.py"),
                                        (("--serve",), "bench_serve.py")])
def test_a_missing_results_dir_is_named(tmp_path, monkeypatch, capsys, where, why, serve, run):
    d = tmp_path / "r"
    if where == "file":
        d.write_text("x")
    rc, err = _plot(monkeypatch, capsys, "--results-dir", d, *serve)
    assert rc == 1 and err == [f"plot_results.py: error: no benchmark results in {d}: it {why} "
                               f"(run {run} first, or give --results-dir)"]


def test_load_results_dir_names_a_missing_dir(tmp_path):
    with pytest.raises(bu.BenchError, match=f"results dir {tmp_path / 'r'} does not exist"):
        bu.load_results_dir(tmp_path / "r")


@pytest.mark.parametrize("text, words", [
    ("", "is empty (a run cut short?)"),
    ("{\"schema\": ", "is not valid JSON"),
    (_doc(rows="x"), "'rows' is a str, expected a list"),
    (_doc(metadata=[]), "'metadata' is a list, expected a dict"),
    (_doc(model=None), "'model' is a NoneType, expected a str"),
    (_doc(rows=["x"]), "row 0 is not an object with a 'variant' name"),
    (_doc(row_variant=...), "row 0 is not an object with a 'variant' name"),
    (_doc(row_batch_size="8"), "row 0 (ait): 'batch_size' is '8', expected a positive integer"),
    (_doc(row_batch_size=...), "row 0 (ait): 'batch_size' is None"),
    (_doc(row_qps=None), "row 0 (ait): 'qps' is None, expected a positive number"),
])
def test_a_malformed_results_file_is_named_and_skipped(tmp_path, monkeypatch, capsys, text,
                                                       words):
    (tmp_path / "ait_resnet50.json").write_text(text)
    rc, err = _plot(monkeypatch, capsys, "--results-dir", tmp_path)
    assert rc == 1 and len(err) == 2, err
    assert err[0].startswith("warning: skipped") and str(tmp_path / "ait_resnet50.json") in err[0]
    assert words in err[0], err[0]
    assert err[1].startswith("plot_results.py: error: no benchmark results in")


def test_a_malformed_serve_row_is_named(tmp_path, monkeypatch, capsys):
    (tmp_path / "serve.json").write_text(_doc("serve", row_p99_ms=...))
    rc, err = _plot(monkeypatch, capsys, "--results-dir", tmp_path, "--serve")
    assert rc == 1 and "row 0 (serve): 'p99_ms' is None" in err[0]
    assert err[-1] == f"plot_results.py: error: no bench_serve.py results in {tmp_path}"


def test_a_failed_row_needs_no_numbers_and_foreign_json_is_skipped_silently(tmp_path):
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    failed = json.loads(_doc())
    failed["rows"].append({"variant": "ait", "batch_size": None, "latency_ms": None,
                           "qps": None, "error": "out of memory"})
    (tmp_path / "ait_resnet50.json").write_text(json.dumps(failed))
    docs = bu.load_results_dir(tmp_path)
    assert [p.name for p, _ in docs] == ["ait_resnet50.json"] and len(docs[0][1]["rows"]) == 2


@pytest.mark.parametrize("name, words", [
    ("missing/sub/x.png", "its parent directory {d}/missing does not exist (create it "
                          "first)"),
    ("x.txt", "expected a name ending in .png"),
    ("d.png", "is a directory; expected a file name"),
])
def test_a_bad_out_is_refused_before_plotting(tmp_path, monkeypatch, capsys, name, words):
    (tmp_path / "ait_resnet50.json").write_text(_doc())
    out = tmp_path / name
    if name == "d.png":
        out.mkdir()
    with pytest.raises(SystemExit) as exc:
        _plot(monkeypatch, capsys, "--results-dir", tmp_path, "--out", out)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--out" in err and words.format(d=tmp_path) in err, err
    assert not (tmp_path / "missing").exists()


def test_out_in_a_new_dir_under_an_existing_one_is_made(tmp_path, monkeypatch, capsys):
    (tmp_path / "ait_resnet50.json").write_text(_doc())
    rc, _ = _plot(monkeypatch, capsys, "--results-dir", tmp_path, "--out",
                  tmp_path / "plots" / "q.png")
    assert rc == 0 and (tmp_path / "plots" / "q.png").stat().st_size > 0


def test_a_model_without_results_is_named(tmp_path, monkeypatch, capsys):
    (tmp_path / "ait_resnet50.json").write_text(_doc())
    rc, err = _plot(monkeypatch, capsys, "--results-dir", tmp_path, "--model", "resnet18")
    assert rc == 1 and err == ["plot_results.py: error: no results for --model resnet18 (the "
                               "results are of resnet50)"]
