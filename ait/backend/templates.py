"""The one jinja2 environment for every `.cu.j2` template of the package.

StrictUndefined makes a missing value an error instead of an empty string in generated C++.
Template names are paths relative to the `ait` package, e.g. "ops/conv2d/templates/x.cu.j2".
"""
from __future__ import annotations

import functools
from pathlib import Path

import jinja2

AIT_ROOT = Path(__file__).resolve().parent.parent
ABI_INCLUDE_DIR = AIT_ROOT / "backend" / "include"


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(AIT_ROOT)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def render(template: str, **values) -> str:
    return environment().get_template(template).render(**values)
