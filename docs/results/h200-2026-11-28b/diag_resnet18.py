"""Diagnose resnet18 at batch 256: error vs timm fp32 per batch, per-op check vs reference."""
import sys, numpy as np, torch, timm
sys.path.insert(0, ".")
from modeling.build import compile_resnet
from modeling.resnet import create_resnet
from weight_utils import randomize_bn, timm_to_ait
from tests.test_gpu_resnet import _images, _reference, _run
from tests.gpu_util import rel_err

torch.manual_seed(0)
tm = timm.create_model("resnet18").eval()
randomize_bn(tm)
model = compile_resnet("resnet18", (1, 256), "tmp/tests")
model.set_many_constants(timm_to_ait(tm, create_resnet("resnet18")))
model.fold_constants()
tm = tm.cuda()
for op in model.meta["ops"]:
    if op.get("kernels"):
        print(op["name"], op["kernels"]["names"][-2:], flush=True)
for n in (32, 128, 129, 200, 256):
    x = _images(n, seed=n)
    ref = _reference(tm, x)
    out = _run(model, x)
    e = rel_err(out.cpu().numpy(), ref.cpu().numpy())
    agree = float((out.argmax(1) == ref.argmax(1)).float().mean())
    # per-image error: which images are off
    per = ((out - ref).norm(dim=1) / ref.norm(dim=1)).cpu().numpy()
    bad = np.nonzero(per > 2e-2)[0]
    print(f"n={n}: rel_err {e:.3e} top1 {agree:.4f} bad images {len(bad)} first {bad[:10]} "
          f"max per-image {per.max():.3e} finite {bool(torch.isfinite(out).all())}", flush=True)
