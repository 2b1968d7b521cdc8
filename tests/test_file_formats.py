"""CPU only: a file that is not what a flag takes is named by what it is (text, a pickle, an
.npy where an .npz belongs, empty, foreign bytes), never by numpy's misleading "pickled data"
(issue: a text file given as weights). Weights are read by content, never unpickled."""
from __future__ import annotations

import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from ait import AitError, fs
from tests.conftest import ROOT
from weight_utils import load_weights

EXPECTED = "expected an .npz archive or a .safetensors file"


def _write(path, kind):
    if kind == "text":
        path.write_text("hello world\n")
    elif kind == "npy":
        np.save(path.with_suffix(".npy"), np.zeros(3, np.float32))
        path.with_suffix(".npy").rename(path)
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"conv1_weight": [1.0]}))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "binary":
        path.write_bytes(bytes(range(200, 232)))
    return path


@pytest.mark.parametrize("suffix", [".npz", ".safetensors", ".txt"])
@pytest.mark.parametrize("kind, words", [
    ("text", "is a text file (starts 'hello world"),
    ("npy", "is a single .npy array"),
    ("pickle", "is a Python pickle"),
    ("empty", "is empty (0 bytes)"),
    ("binary", "is of no known format (its first bytes: c8 c9 ca"),
])
def test_a_file_that_is_no_weights_file_is_named_for_what_it_is(tmp_path, suffix, kind, words):
    path = _write(tmp_path / f"w{suffix}", kind)
    with pytest.raises(AitError) as exc:
        load_weights(path)
    msg = str(exc.value)
    assert msg.startswith(f"weights file {path} {words}"), msg
    assert EXPECTED in msg and "pickled" not in msg and "allow_pickle" not in msg


def test_a_zip_that_is_not_an_npz_names_its_member(tmp_path):
    path = tmp_path / "model.npz"  # what torch.save writes: a zip of a pickle and blobs
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    with pytest.raises(AitError, match=r"member 'archive/data.pkl' is not an .npy array"):
        load_weights(path)


def test_an_object_array_in_an_npz_is_refused_not_unpickled(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(AitError, match=r"tensor 'a' is an object array .*never unpickled"):
        load_weights(path)


def test_weights_are_read_by_content_whatever_the_suffix(tmp_path):
    from safetensors.numpy import save_file

    save_file({"a": np.ones(2, np.float32)}, str(tmp_path / "s.npz"))
    np.savez(tmp_path / "n.safetensors.npz", a=np.ones(2, np.float32))
    (tmp_path / "n.safetensors.npz").rename(tmp_path / "n.safetensors")
    for name in ("s.npz", "n.safetensors"):
        assert load_weights(tmp_path / name)["a"].tolist() == [1.0, 1.0]


def test_array_format_of_each_kind():
    assert fs.array_format(b"") == "empty"
    assert fs.array_format(b"\x93NUMPY\x01\x00") == "npy"
    assert fs.array_format(b"PK\x03\x04rest") == "npz"
    assert fs.array_format(b"PK\x05\x06" + bytes(18)) == "npz"  # an empty zip
    assert fs.array_format((20).to_bytes(8, "little") + b'{"a":') == "safetensors"
    assert fs.array_format(pickle.dumps([1])[:16]) == "pickle"
    assert fs.array_format(b"a,b,c\n1,2,3\n") == "text"
    assert fs.array_format(bytes([0, 255, 1, 254])) == "unknown"


def test_infer_with_numpy_names_a_text_or_weights_file_given_as_input(tmp_path):
    """--input takes one .npy; the script says what it got, in one line (exit 1)."""
    import numpy as np

    from tests.test_bad_inputs import _one_error_line

    np.savez(tmp_path / "w.npz", a=np.zeros(2, np.float16))
    (tmp_path / "x.npy").write_text("1 2 3\n")
    for name, words in (("x.npy", "is a text file"), ("w.npz", "is an .npz (zip) archive")):
        proc = subprocess.run(
            [sys.executable, "infer_with_numpy.py", "--weights", str(tmp_path / "w.npz"),
             "--input", str(tmp_path / name)], cwd=ROOT, capture_output=True, text=True,
            timeout=120)
        line = _one_error_line(proc, f"--input {tmp_path / name} {words}",
                               "expected one .npy array")
        assert "pickled" not in line
