"""Files that a later run trusts: written to a temporary name and renamed, checked when read.

Temporary files are named ``.<name>.<pid>.<n>.tmp`` beside their destination, so that one
left behind by a killed process can be recognised (its pid is gone) and removed.
"""
from __future__ import annotations

import itertools
import os
import struct
import tempfile
import time
from pathlib import Path

from ait.ir.errors import AitError

_counter = itertools.count()
TMP_SUFFIX = ".tmp"
ORPHAN_AGE_S = 24 * 3600  # a temp file this old is an orphan even if its pid is reused


def tmp_path(path: Path) -> Path:
    """A temporary name in `path`'s directory, unique to this process and call."""
    return path.with_name(f".{path.name}.{os.getpid()}.{next(_counter)}{TMP_SUFFIX}")


def write_atomic(path: Path | str, data: bytes | str) -> Path:
    """Write `data` to `path` through a temporary file and a rename: a reader sees the old
    file or the whole new one, never a part."""
    path = Path(path)
    tmp = tmp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_orphans(directory: Path | str, recursive: bool = True) -> int:
    """Remove temporary files under `directory` left by processes that are gone (or older
    than a day); returns how many. Files of running processes are left alone."""
    directory = Path(directory)
    if not directory.is_dir():
        return 0
    now, removed = time.time(), 0
    for p in (directory.rglob if recursive else directory.glob)(f".*{TMP_SUFFIX}"):
        parts = p.name[: -len(TMP_SUFFIX)].rsplit(".", 2)
        pid = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None
        try:
            old = now - p.stat().st_mtime > ORPHAN_AGE_S
            if (pid is not None and pid != os.getpid() and not _pid_alive(pid)) or old:
                p.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def require_writable_dir(path: Path | str, what: str, create: bool = True) -> Path:
    """Create `path` if needed and check that files can be written there; otherwise an
    AitError naming `what` (a flag or a variable) and the reason. With ``create=False`` a
    missing `path` is not made: its parent is checked instead (where a run will make it
    once it has something to write)."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise AitError(f"{what}: {path} is not a directory (a file is there); "
                       "expected a writable directory")
    if not create and not path.exists():
        require_writable_dir(path.parent, what, create=False)
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=f".probe.{os.getpid()}.",
                                     suffix=TMP_SUFFIX)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise AitError(f"{what}: cannot write in {path} ({reason}); expected a writable "
                       "directory") from None
    return path


def not_a_file(path: Path | str) -> str | None:
    """Why `path` cannot be read as a file, in a few words ("does not exist", "is a
    directory", "is not a regular file"), or None when it is a regular file."""
    path = Path(path)
    if path.is_file():
        return None
    if not path.exists():
        return "does not exist"
    return "is a directory" if path.is_dir() else "is not a regular file"


# -- ELF objects, executables and shared libraries ------------------------------------------
def elf_problem(path: Path | str) -> str | None:
    """Why `path` is not a whole ELF file (None when it is): a cached object, executable or
    shared library that is empty or truncated must never be trusted. The section header
    table sits at the end of what nvcc and ld write, so a cut file loses it."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if size == 0:
        return "is empty (0 bytes)"
    if len(head) < 64 or head[:4] != b"\x7fELF":
        return f"is not an ELF file ({size} bytes)"
    if head[4] != 2:  # ELFCLASS64
        return "is not a 64-bit ELF file"
    order = "<" if head[5] == 1 else ">"
    shoff, = struct.unpack_from(order + "Q", head, 0x28)
    shentsize, shnum = struct.unpack_from(order + "HH", head, 0x3A)
    end = shoff + shentsize * shnum
    if shoff and end > size:
        return f"is truncated ({size} bytes, its section headers end at byte {end})"
    return None


# -- array files (.npy, .npz, .safetensors) --------------------------------------------------
def array_format(head: bytes) -> str:
    """What the first bytes of a file say it is: "npy", "npz" (a zip archive), "safetensors",
    "pickle", "empty", "text" or "unknown". numpy names anything that is not an .npy or a zip
    "pickled data", which misleads: the files read here are never unpickled."""
    if not head:
        return "empty"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "npz"
    if len(head) >= 9 and head[8:9] == b"{" and 2 <= struct.unpack_from("<Q", head)[0] < 1 << 30:
        return "safetensors"  # u64 header length, then a JSON header
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"  # protocol 2-5
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "unknown"
    return "text" if all(c.isprintable() or c in "\t\r\n" for c in text) else "unknown"


def read_head(path: Path | str, n: int = 16) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def not_this_format(head: bytes, expected: str) -> str:
    """Why a file that starts with `head` is not `expected` (e.g. "an .npz archive or a
    .safetensors file"), in words, for an error message."""
    kind = array_format(head)
    what = {"empty": "is empty (0 bytes)",
            "npy": "is a single .npy array",
            "npz": "is an .npz (zip) archive",
            "safetensors": "is a .safetensors file",
            "pickle": "is a Python pickle (e.g. torch.save); pickles are never loaded",
            "text": f"is a text file (starts {head[:12].decode('utf-8', 'replace')!r})",
            }.get(kind, f"is of no known format (its first bytes: {head[:8].hex(' ')})")
    return f"{what}; expected {expected}"
