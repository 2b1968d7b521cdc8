"""CPU only: scripts/candidate_wins.py and scripts/validate_candidates.py name a bad argument
or file in one line (exit 2 for arguments, 1 for files), never a traceback, and create no
file they were only asked to read."""
from __future__ import annotations

import importlib.util
import json
import sqlite3

import pytest

from ait import cli
from tests.conftest import ROOT


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def wins():
    return _script("candidate_wins")


@pytest.fixture(scope="module")
def validate():
    return _script("validate_candidates")


def _run(mod, prog, argv, capsys):
    try:
        rc = cli.run(mod.main, prog, argv)
    except SystemExit as exc:  # argparse's error: exit 2
        rc = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return rc, err


def test_a_missing_cache_is_named_and_not_created(wins, tmp_path, capsys):
    path = tmp_path / "profile.sqlite"
    rc, err = _run(wins, "candidate_wins.py", ["--cache", str(path)], capsys)
    assert rc == 1 and f"--cache {path} does not exist" in err
    assert not path.exists()  # sqlite3.connect would have made an empty database


@pytest.mark.parametrize("content", [b"hello\n", b""])
def test_a_cache_that_is_no_profile_cache_is_named(wins, tmp_path, capsys, content):
    path = tmp_path / "x.sqlite"
    path.write_bytes(content)
    rc, err = _run(wins, "candidate_wins.py", ["--cache", str(path)], capsys)
    assert rc == 1 and f"--cache {path} is not a profile cache" in err


def test_an_sqlite_file_without_the_profile_table_is_named(wins, tmp_path, capsys):
    path = tmp_path / "other.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE t (a)")
    rc, err = _run(wins, "candidate_wins.py", ["--cache", str(path)], capsys)
    assert rc == 1 and "is not a profile cache (no such table: profile)" in err


@pytest.mark.parametrize("text, words", [
    (None, "No such file"),
    ("hello", "is not valid JSON"),
    (json.dumps({"a": 1}), "is not a results file"),
])
def test_a_bad_results_file_is_named(wins, tmp_path, capsys, text, words):
    path = tmp_path / "ait.json"
    if text is not None:
        path.write_text(text)
    rc, err = _run(wins, "candidate_wins.py", [str(path)], capsys)
    assert rc == 1 and str(path) in err and words in err
    assert "expected a benchmark_ait.py results file" in err


def test_malformed_kernels_metadata_is_named(wins, tmp_path, capsys):
    import bench_utils as bu

    path, _ = bu.write_results(tmp_path, "ait_resnet50", "ait", "resnet50",
                               {"kernels": {"conv1": "x"}, "batch_range": [1, 8]}, [])
    rc, err = _run(wins, "candidate_wins.py", [str(path)], capsys)
    assert rc == 1 and f"{path}: metadata 'kernels' is malformed" in err


@pytest.mark.parametrize("argv, words", [
    (["--budget", "-1"], "--budget: expected a finite fraction >= 0"),
    (["--budget", "nan"], "--budget: expected a finite fraction >= 0"),
    (["--leave-one-out", "resnet50"], "--leave-one-out needs --cache"),
    (["--cache", "c.sqlite", "--leave-one-out", "resnet5"], "unknown model 'resnet5'"),
])
def test_candidate_wins_bad_arguments(wins, argv, words, capsys):
    rc, err = _run(wins, "candidate_wins.py", argv, capsys)
    assert rc == 2 and words in err


@pytest.mark.parametrize("argv, words", [
    (["--out", "/nonexist/v.jsonl"], "--out /nonexist/v.jsonl: directory /nonexist does not "
                                     "exist"),
    (["--out", "{tmp}"], "is a directory; expected a file name"),
    (["--batches", "1", "3000"], "--batches 3000 is larger than a ResNet"),
    (["--batches", "0"], "expected a positive integer, got '0'"),
])
def test_validate_candidates_checks_its_arguments_before_the_gpu(validate, argv, words,
                                                                 tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    rc, err = _run(validate, "validate_candidates.py", argv, capsys)
    assert rc == 2 and words.replace("{tmp}", str(tmp_path)) in err
    assert "GPU" not in err


def test_reading_an_archived_cache_writes_nothing_beside_it(wins, tmp_path):
    """A WAL-mode cache opened read-only would still get -wal / -shm files next to it (they
    were once committed under docs/results): the cache is opened immutable."""
    import shutil

    cache = tmp_path / "profile.sqlite"
    shutil.copy(ROOT / "docs/results/h200-2026-12-03b/profile_fbcc766.sqlite", cache)
    writer = sqlite3.connect(cache)  # as the tuner leaves a cache: WAL journal
    writer.execute("PRAGMA journal_mode=WAL")
    writer.close()
    before = sorted(p.name for p in tmp_path.iterdir())
    assert before == ["profile.sqlite"]
    db = wins.open_cache(str(cache))
    assert db.execute("SELECT COUNT(*) FROM profile").fetchone()[0] > 0
    db.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == before
