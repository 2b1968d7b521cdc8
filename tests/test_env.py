"""ait.ir.env: the environment settings' parsers, and the build knobs that use them (a bad
value is an AitError naming the variable, not a ValueError from int())."""
from __future__ import annotations

import pytest

from ait.backend import nvcc
from ait.ir.env import env_count, env_flag, env_switch
from ait.ir.errors import AitError
from ait.tune import build as build_mod

VAR = "AIT_TEST_SETTING"


@pytest.mark.parametrize("text,want", [(None, None), ("", None), ("  ", None), ("4", 4),
                                       (" 12 ", 12), ("1", 1)])
def test_env_count_reads_positive_integers(monkeypatch, text, want):
    if text is None:
        monkeypatch.delenv(VAR, raising=False)
    else:
        monkeypatch.setenv(VAR, text)
    assert env_count(VAR) == want


@pytest.mark.parametrize("text", ["0", "-3", "x", "1.5", "4 jobs"])
def test_env_count_names_the_variable_and_value(monkeypatch, text):
    monkeypatch.setenv(VAR, text)
    with pytest.raises(AitError, match=rf"{VAR}='{text}': expected a positive integer"):
        env_count(VAR)


@pytest.mark.parametrize("text,want", [("1", True), ("TRUE", True), ("on", True), ("yes", True),
                                       ("0", False), ("", False), ("nope", False)])
def test_env_flag(monkeypatch, text, want):
    monkeypatch.setenv(VAR, text)
    assert env_flag(VAR) is want


@pytest.mark.parametrize("var,read", [
    ("AIT_KERNELS_PER_TU", build_mod.kernels_per_tu),
    ("AIT_HOPPER_UNITS", lambda: build_mod.hopper_units(15)),
    ("AIT_COMPILE_JOBS", nvcc.compile_jobs),
])
def test_build_knobs(monkeypatch, var, read):
    monkeypatch.setenv(var, "7")
    assert read() == 7
    monkeypatch.setenv(var, "zero")
    with pytest.raises(AitError, match=var):
        read()


def test_compile_jobs_default_keeps_the_reserved_cores(monkeypatch):
    monkeypatch.delenv("AIT_COMPILE_JOBS", raising=False)
    monkeypatch.setattr(nvcc, "default_jobs", lambda: 16)
    assert nvcc.compile_jobs() == 16 and nvcc.compile_jobs(reserve=1) == 15
    assert nvcc.compile_jobs(reserve=40) == 1
    monkeypatch.setenv("AIT_COMPILE_JOBS", "18")  # set: taken as it is, nothing reserved
    assert nvcc.compile_jobs(reserve=1) == 18


@pytest.mark.parametrize("text,want", [(None, True), ("", True), ("0", False), ("off", False),
                                       ("FALSE", False), ("no", False), ("1", True), ("On", True)])
def test_env_switch(monkeypatch, text, want):
    if text is None:
        monkeypatch.delenv(VAR, raising=False)
    else:
        monkeypatch.setenv(VAR, text)
    assert env_switch(VAR, True) is want


def test_env_switch_refuses_other_values(monkeypatch):
    monkeypatch.setenv(VAR, "of")
    with pytest.raises(AitError, match=rf"{VAR}='of': expected 1 or 0"):
        env_switch(VAR, True)


def test_split_hopper_switch(monkeypatch):
    monkeypatch.setenv("AIT_SPLIT_HOPPER", "off")
    assert build_mod.split_hopper() is False  # was on: only "0" turned it off
    monkeypatch.setenv("AIT_SPLIT_HOPPER", "disable")
    with pytest.raises(AitError, match="AIT_SPLIT_HOPPER"):
        build_mod.split_hopper()
