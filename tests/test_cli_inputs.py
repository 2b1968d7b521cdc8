"""CPU only, no subprocesses: the scripts' bad arguments are refused at parse time with exit 2
and one line naming the flag and the problem (ait/cli.py's shared argument types)."""
from __future__ import annotations

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
