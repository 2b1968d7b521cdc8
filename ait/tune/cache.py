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
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ait.backend.nvcc import cache_dir

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


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


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


class ProfileCache:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else cache_dir() / "profile.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=60)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # concurrent compiles read while one writes
            with db:  # commit (or roll back) the transaction
                yield db
        finally:
            db.close()

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
