#!/usr/bin/env python3
"""TIMM ResNet weights -> ait constants, and the weights file format.

Each BatchNorm is folded into the conv before it, with that BN's own eps:
    w' = w * gamma / sqrt(var + eps),   b' = beta - mean * gamma / sqrt(var + eps)
then NCHW -> OHWI, the stem weight put in the model's stem layout (space-to-depth by default:
[64, 4, 4, 16]; or zero-padded to 8 input channels), and cast to fp16 (or kept fp32 for the
reference). A file written for one stem loads into a model with the other. Files are .npz (no pickle: np.load(allow_pickle=False))
or .safetensors, and load back with their names and shapes checked against the model.

    python weight_utils.py --model resnet50 --out resnet50.npz [--pretrained | --seed 0]
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Mapping

import numpy as np

from ait import AitError, cli, fs
from ait.ir.values import checked_array
from ait.ops.space_to_depth.op import s2d_conv_weight, s2d_conv_weight_inverse

_CONV_TO_BN = [
    (re.compile(r"^(.*\.)?conv(\d+)$"), r"\1bn\2"),             # convN -> bnN
    (re.compile(r"^(.*\.downsample)\.0$"), r"\1.1"),           # downsample.0 -> downsample.1
]


def _bn_key_for(conv: str) -> str:
    for pattern, repl in _CONV_TO_BN:
        if pattern.match(conv):
            return pattern.sub(repl, conv)
    raise AitError(f"no BatchNorm naming rule for conv {conv!r}")


def fold_timm_state(model) -> dict[str, np.ndarray]:
    """{ait name: fp32 numpy array} from a timm ResNet module (BN folded, OHWI, unpadded)."""
    import torch

    modules = dict(model.named_modules())
    out: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for name, mod in modules.items():
            if isinstance(mod, torch.nn.Conv2d):
                bn_name = _bn_key_for(name)
                bn = modules.get(bn_name)
                if not isinstance(bn, torch.nn.BatchNorm2d):
                    raise AitError(f"conv {name!r}: expected BatchNorm2d {bn_name!r} after it, "
                                   f"found {type(bn).__name__}")
                scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
                w = mod.weight.double() * scale.view(-1, 1, 1, 1)
                b = bn.bias.double() - bn.running_mean.double() * scale
                if mod.bias is not None:
                    b = b + mod.bias.double() * scale
                key = name.replace(".", "_")
                out[key + "_weight"] = w.permute(0, 2, 3, 1).float().numpy()  # OIHW -> OHWI
                out[key + "_bias"] = b.float().numpy()
            elif isinstance(mod, torch.nn.Linear):
                key = name.replace(".", "_")
                out[key + "_weight"] = mod.weight.float().numpy()
                out[key + "_bias"] = mod.bias.float().numpy()
    return out


def expected_shapes(ait_model) -> dict[str, tuple[int, ...]]:
    return {name.replace(".", "_"): tuple(p.shape()) for name, p in ait_model.named_parameters()}


def model_dtype(ait_model) -> str:
    """The dtype of the model's parameters (what a weights file is cast to by default)."""
    dtypes = {p.tensor.dtype for _, p in ait_model.named_parameters()}
    return dtypes.pop() if len(dtypes) == 1 else "float32"


def conform(params: Mapping[str, np.ndarray], ait_model, dtype: str | None = None,
            source: str = "weights") -> dict[str, np.ndarray]:
    """Check names, shapes and values against the ait model, zero-padding input channels
    where the model's weight is wider (the few-channels stem), and cast to ``dtype`` (default:
    the model's). Errors name ``source`` and the key: a tensor that is not real floats (int,
    bool, complex), holds NaN/Inf, or overflows ``dtype``."""
    dtype = dtype or model_dtype(ait_model)
    expected = expected_shapes(ait_model)
    # modules that store a transformed weight (channel-padded, space-to-depth): name -> module
    transformed = {(n + ".weight").lstrip(".").replace(".", "_"): m
                   for n, m in ait_model.named_modules() if hasattr(m, "transform_weight")}
    missing = sorted(set(expected) - set(params))
    unknown = sorted(set(params) - set(expected))
    if missing:
        raise AitError(f"weights are missing {len(missing)} key(s), first {missing[0]!r} "
                       f"(expected shape {expected[missing[0]]})")
    if unknown:
        raise AitError(f"weights have {len(unknown)} unknown key(s), first {unknown[0]!r}")
    out = {}
    for key, shape in expected.items():
        arr = np.asarray(params[key])
        checked_array(arr, f"{source}: tensor {key!r}", dtype, finite=True)
        if arr.shape != shape:
            module = transformed.get(key)
            stem = _as_source_weight(arr, module.source_weight_shape) if module else None
            if stem is None:
                want = f"{shape}" + (f" or {module.source_weight_shape}" if module else "")
                raise AitError(f"weight {key!r} has shape {arr.shape}, the model expects {want}")
            arr = module.transform_weight(stem)
        out[key] = np.ascontiguousarray(arr.astype(dtype))
    return out


def _as_source_weight(arr: np.ndarray, source: tuple[int, ...]) -> np.ndarray | None:
    """`arr` as the framework's stem weight of shape `source` [k, r, s, c], from any stem's
    stored form: as is, channel-padded (zeros), or space-to-depth (zero taps and channels), so
    a weights file written for one stem loads into a model with the other. None otherwise."""
    if arr.shape == source:
        return arr
    if arr.ndim != 4 or len(source) != 4 or arr.shape[0] != source[0]:
        return None
    k, r, s, c = source
    if arr.shape[1:3] == (r, s) and arr.shape[3] > c and not np.any(arr[..., c:]):
        return arr[..., :c]
    if arr.shape[1:3] == ((r + 1) // 2, (s + 1) // 2) and arr.shape[3] >= 4 * c:
        w = s2d_conv_weight_inverse(arr, (r, s), c)
        if np.array_equal(s2d_conv_weight(w, arr.shape[3]), arr):  # the dropped parts were 0
            return w
    return None


def timm_to_ait(timm_model, ait_model, dtype: str = "float16") -> dict[str, np.ndarray]:
    """The constants to bind to a compiled (or reference) ait ResNet."""
    timm_model.eval()
    return conform(fold_timm_state(timm_model), ait_model, dtype)


def timm_resnet(name: str, *, pretrained: bool = False, seed: int = 0,
                num_classes: int = 1000):
    """timm's ``name`` in eval mode, the model an ait ResNet's weights come from (map them with
    ``timm_to_ait``): timm's pretrained weights, or a random init from ``seed`` (torch's
    generator seeded, then ``randomize_bn``, so the BN folding is tested). An AitError if timm
    cannot make it (an unknown name, a failed download)."""
    import timm
    import torch

    torch.manual_seed(seed)
    try:
        model = timm.create_model(name, pretrained=pretrained, num_classes=num_classes)
    except Exception as e:  # noqa: BLE001 - unknown model names, download failures
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        raise AitError(f"timm could not create {name} (pretrained={pretrained}): "
                       f"{lines[0][:300] if lines else type(e).__name__}") from None
    model.eval()
    if not pretrained:
        randomize_bn(model, seed)
        keep_in_fp16_range(model, seed)
    return model


FP16_SAFE_PEAK = 1000.0  # far below fp16's 65504: other inputs may peak higher than the probe


def keep_in_fp16_range(model, seed: int = 0, peak: float = FP16_SAFE_PEAK) -> float:
    """Scale down every residual branch's last BatchNorm (gamma and beta, by one factor) until
    no block output of a seeded probe image exceeds ``peak``; returns the factor (1.0: left
    as it was). A random deep ResNet's residual stream grows with every block: ResNet-50's
    peaks at ~240, but ResNet-101's at ~4e5 and ResNet-152's at ~2e9, which fp16 cannot
    hold (inf, then NaN, in any fp16 engine, torch's too). Trained nets stay small, as
    their last BNs have small gammas; this does the same for a random one."""
    import torch

    blocks = [b for name in ("layer1", "layer2", "layer3", "layer4")
              for b in getattr(model, name, ())]
    last_bns = []
    for b in blocks:
        bns = [m for n, m in b.named_modules() if isinstance(m, torch.nn.BatchNorm2d)
               and not n.startswith("downsample")]
        if bns:
            last_bns.append(bns[-1])
    if not last_bns:
        return 1.0
    saved = [(bn.weight.detach().clone(), bn.bias.detach().clone()) for bn in last_bns]
    from modeling.images import structured_noise

    size = getattr(model, "default_cfg", {}).get("input_size", (3, 224, 224))[1:]
    probe = structured_noise(1, size, seed)
    seen: list[float] = []
    hooks = [b.register_forward_hook(lambda _m, _i, out: seen.append(float(out.abs().max())))
             for b in blocks]
    factor = 1.0
    try:
        with torch.no_grad():
            for _ in range(40):
                seen.clear()
                model(probe)
                if max(seen) <= peak:
                    break
                factor /= 2
                for bn, (w, b) in zip(last_bns, saved):
                    bn.weight.copy_(w * factor)
                    bn.bias.copy_(b * factor)
    finally:
        for h in hooks:
            h.remove()
    return factor


def randomize_bn(model, seed: int = 0) -> None:
    """Give BatchNorm layers non-trivial statistics, so a randomly initialised model tests
    the folding (fresh BNs are the identity: mean 0, var 1, gamma 1, beta 0)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) * 0.5 + 0.75)


# -- weights files ---------------------------------------------------------------------------
def check_weights_path(path: str | Path, what: str = "weights file") -> Path:
    """Where a weights file can be written: a known suffix, an existing writable directory
    (checked before any work, so that nothing is computed for nothing)."""
    path = Path(path)
    if path.suffix not in (".npz", ".safetensors"):
        raise AitError(f"{what} {path}: expected a name ending in .npz or .safetensors")
    parent = path.parent
    if not parent.is_dir():
        raise AitError(f"{what} {path}: directory {parent} does not exist (create it first)")
    if path.is_dir():
        raise AitError(f"{what} {path}: is a directory; expected a file name")
    fs.require_writable_dir(parent, f"{what} {path}")
    return path


def save_weights(params: Mapping[str, np.ndarray], path: str | Path) -> Path:
    """Write a weights file atomically (a temporary name, then a rename): an interrupted
    write never leaves a partial file under the real name."""
    path = check_weights_path(path)
    if path.suffix == ".safetensors":
        from safetensors.numpy import save

        data = save({k: np.ascontiguousarray(v) for k, v in params.items()})
    else:
        import io

        buf = io.BytesIO()
        np.savez(buf, **params)
        data = buf.getvalue()
    try:
        return fs.write_atomic(path, data)
    except OSError as e:
        raise AitError(f"weights file {path}: cannot be written ({e.strerror or e})") from None


def load_weights(path: str | Path, ait_model=None,
                 dtype: str | None = None) -> dict[str, np.ndarray]:
    """Load a weights file (never unpickles); with a model, check it matches."""
    path = Path(path)
    if (why := fs.not_a_file(path)) is not None:
        raise AitError(f"weights file {path} {why} (make one with "
                       f"`python weight_utils.py --model resnet50 --out "
                       f"{path.name if why == 'does not exist' else 'resnet50.npz'}`)")
    try:
        head = fs.read_head(path)
    except OSError as e:
        raise AitError(f"weights file {path} cannot be read ({e.strerror or e})") from None
    kind = fs.array_format(head)  # by content: numpy calls any other file "pickled data"
    if kind not in ("npz", "safetensors"):
        raise AitError(f"weights file {path} " + fs.not_this_format(
            head, "an .npz archive or a .safetensors file of tensors (weight_utils.py --out)"))
    try:
        if kind == "safetensors":
            from safetensors.numpy import load_file

            params = load_file(str(path))
        else:
            with np.load(path, allow_pickle=False) as f:
                params = {k: _npz_member(f, k, path) for k in f.files}
    except AitError:
        raise
    except Exception as e:  # corrupt or foreign file: say which
        raise AitError(f"{path}: not a readable .npz/.safetensors weights file "
                       f"({cli._message(e)})") from None
    if not params:
        want = (f"the {len(expected_shapes(ait_model))} tensors of the model"
                if ait_model is not None else "tensors")
        raise AitError(f"weights file {path} holds no tensors; expected {want} (make one with "
                       f"`python weight_utils.py --model resnet50 --out {path.name}`)")
    if ait_model is None:
        for key, arr in params.items():  # real floats only, whatever they load into
            checked_array(arr, f"{path}: tensor {key!r}",
                          arr.dtype.name if arr.dtype.kind == "f" else "float32")
        return params
    dtype = dtype or model_dtype(ait_model)
    out = conform(params, ait_model, dtype, source=str(path))
    wider = [k for k, v in params.items() if v.dtype.itemsize > np.dtype(dtype).itemsize]
    if wider:
        kinds = sorted({params[k].dtype.name for k in wider})
        print(f"warning: {path}: {len(wider)} tensor(s) stored as {'/'.join(kinds)} rounded "
              f"to {dtype} for the model (first {sorted(wider)[0]!r})", file=sys.stderr)
    return out


def _npz_member(f, key: str, path: Path) -> np.ndarray:
    """One array of an open .npz, or an AitError naming it: an object array (it needs pickle,
    never used here) or a member that is no .npy array (a zip of something else: torch.save)."""
    try:
        arr = f[key]
    except ValueError as e:
        if "allow_pickle" in str(e) or "Object arrays" in str(e):
            raise AitError(f"weights file {path}: tensor {key!r} is an object array (Python "
                           "objects, which need pickle); weights files hold numbers only and "
                           "are never unpickled") from None
        raise
    if not isinstance(arr, np.ndarray):
        raise AitError(f"weights file {path}: member {key!r} is not an .npy array; the file "
                       "is a zip archive but not an .npz of tensors (a torch.save file?)")
    return arr


# -- CLI -------------------------------------------------------------------------------------
def main(argv=None) -> int:
    from modeling.resnet import SPECS

    ap = cli.ArgumentParser(description=__doc__.split("\n\n")[0],
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet50", choices=sorted(SPECS))
    ap.add_argument("--out", required=True, help="output file (.npz or .safetensors)")
    ap.add_argument("--pretrained", action="store_true",
                    help="load timm's pretrained weights (needs them downloadable or cached)")
    ap.add_argument("--seed", type=int, default=0,
                    help="seed for random init (without --pretrained)")
    ap.add_argument("--num-classes", type=cli.positive_int, default=1000)
    ap.add_argument("--dtype", default="float16", choices=["float16", "float32"])
    args = ap.parse_args(argv)
    try:
        check_weights_path(args.out, "--out")  # before minutes of work, not after
        from modeling.resnet import create_resnet

        tm = timm_resnet(args.model, pretrained=args.pretrained, seed=args.seed,
                         num_classes=args.num_classes)
        params = timm_to_ait(tm, create_resnet(args.model, args.num_classes), args.dtype)
        path = save_weights(params, args.out)
    except AitError as e:
        if args.debug:
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1
    n = sum(v.size for v in params.values())
    print(f"wrote {path} ({len(params)} tensors, {n / 1e6:.1f} M parameters, {args.dtype})")
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main, "weight_utils.py"))
