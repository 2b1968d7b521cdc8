"""CPU only: serve_resnet.py refuses non-positive counts at parse time, before Ray starts."""
import pytest

import serve_resnet


@pytest.mark.parametrize("flag", ["--top", "--num-runtimes", "--image-size", "--num-classes"])
@pytest.mark.parametrize("value", ["0", "-1", "x"])
def test_non_positive_counts_are_a_cli_error(flag, value, capsys):
    with pytest.raises(SystemExit) as exc:
        serve_resnet.parse_args([flag, value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and "positive integer" in err and "Traceback" not in err
