"""Persistent profile cache (sqlite): which kernel won for one op, shape and build setup.

Keyed by everything that can change the answer: op family, epilogue, problem dims, dtypes,
arch, CUTLASS version, accumulation type and candidate-set identity. It stores the decision
(a kernel name and its time), not the kernel. Location: $AIT_CACHE_DIR/profile.sqlite, else
the user cache dir (~/.cache/ait). AIT_FORCE_PROFILE=1 re-profiles (and overwrites),
AIT_PROFILE_CACHE_ONLY=1 turns a miss into an error.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ait.backend.nvcc import cache_dir, require_cache_dir
from ait.ir.errors import AitError

CACHE_FILE = "profile.sqlite"  # in the cache dir (AIT_CACHE_DIR)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS profile (
    key TEXT PRIMARY KEY,
    family TEXT NOT NULL,
    epilogue TEXT NOT NULL,
    dims TEXT NOT NULL,
    dtypes TEXT NOT NULL,
    arch INTEGER NOT NULL,
    cutlass_version TEXT NOT NULL,
    acc TEXT NOT NULL,
    candidate_set TEXT NOT NULL,
    kernel TEXT NOT NULL,
    ms REAL,
    results TEXT,
    created REAL NOT NULL
)
"""


@dataclass(frozen=True)
class ProfileKey:
    family: str
    epilogue: str
    dims: tuple
    dtypes: str
    arch: int
    cutlass_version: str
    acc: str
    candidate_set: str

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Entry:
    kernel: str
    ms: float | None


class ProfileCacheError(AitError):
    """The profile cache cannot be read or written; the message names the file."""


class ProfileCache:
    def __init__(self, path: Path | str | None = None):
        if path is None:
            self.path = require_cache_dir() / CACHE_FILE
        else:
            self.path = Path(path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(_SCHEMA)
            db.execute("SELECT key, kernel, ms FROM profile LIMIT 1").fetchall()

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=60)
        except sqlite3.Error as e:
            raise self._error(e) from None
        try:
            db.execute("PRAGMA journal_mode=WAL")  # concurrent compiles read while one writes
            with db:  # commit (or roll back) the transaction
                yield db
        except sqlite3.Error as e:
            raise self._error(e) from None
        finally:
            db.close()

    def _error(self, e: sqlite3.Error) -> ProfileCacheError:
        msg = str(e) or type(e).__name__
        if isinstance(e, sqlite3.OperationalError) and ("locked" in msg or "readonly" in msg
                                                        or "unable to open" in msg):
            return ProfileCacheError(f"profile cache {self.path}: {msg} (check that the file "
                                     "is writable and no other process holds it)")
        return ProfileCacheError(
            f"profile cache {self.path} is damaged ({msg}); move it aside and rebuild: "
            f"mv {self.path} {self.path}.bad (kernel choices are profiled again)")

    def get(self, key: ProfileKey) -> Entry | None:
        with self._connect() as db:
            row = db.execute("SELECT kernel, ms FROM profile WHERE key = ?",
                             (key.digest(),)).fetchone()
        return Entry(*row) if row else None

    def put(self, key: ProfileKey, kernel: str, ms: float | None, results: list | None = None):
        fields = asdict(key)
        with self._connect() as db:
            db.execute(
                "INSERT OR REPLACE INTO profile VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (key.digest(), fields["family"], fields["epilogue"], json.dumps(fields["dims"]),
                 fields["dtypes"], fields["arch"], fields["cutlass_version"], fields["acc"],
                 fields["candidate_set"], kernel, ms, json.dumps(results or []), time.time()),
            )

    def __len__(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM profile").fetchone()[0]
