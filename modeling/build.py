"""Compile (or reuse) a ResNet for the example scripts: one .so with a dynamic batch.

Needs no torch: the numpy example compiles through here too. The .so lands in
``workdir/<name>/``; kernel choices (sqlite) and objects (content-hashed) are cached in the
user cache dir, so a second compile of the same model links in seconds."""
from __future__ import annotations

from pathlib import Path

from ait import detect_target
from ait.compiler import build_model, compile_model
from modeling.resnet import DEFAULT_STEM, build_resnet_graph


def artifact_name(model_name: str, batch_sizes: tuple[int, int], use_fp16_acc: bool,
                  num_classes: int, image_size: int, stem: str = DEFAULT_STEM) -> str:
    lo, hi = batch_sizes
    acc = "acc16" if use_fp16_acc else "acc32"
    stem_tag = {"space_to_depth": "s2d"}.get(stem, stem)  # stems differ in weight layout
    return f"{model_name}_b{lo}-{hi}_{image_size}px_{num_classes}c_{acc}_{stem_tag}"


def compile_resnet(model_name: str = "resnet50", batch_sizes: tuple[int, int] = (1, 256),
                   workdir: str | Path = "./tmp", use_fp16_acc: bool = False,
                   num_classes: int = 1000, image_size: int = 224, target=None, profile=True,
                   stem: str = DEFAULT_STEM, num_runtimes: int = 1, load: bool = True):
    """The compiled ait ``Model`` for ``model_name`` serving batch sizes lo..hi; returns it
    with no constants set (bind weights with ``set_many_constants``) and ``num_runtimes``
    execution contexts (calls from several threads that may run at once). ``load=False``
    returns the .so's path instead (no GPU needed to build with a fixed target)."""
    lo, hi = batch_sizes
    if not 1 <= lo <= hi:
        raise ValueError(f"batch_sizes must satisfy 1 <= lo <= hi, got {batch_sizes}")
    target = target or detect_target(use_fp16_acc=use_fp16_acc)
    _, y = build_resnet_graph(model_name, (lo, hi) if lo != hi else lo, image_size, num_classes,
                              stem=stem)
    name = artifact_name(model_name, (lo, hi), use_fp16_acc, num_classes, image_size, stem)
    if not load:
        return build_model(y, target, workdir, name, profile=profile)
    return compile_model(y, target, workdir, name, profile=profile, num_runtimes=num_runtimes)
