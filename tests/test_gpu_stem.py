"""The fused stem's kernels on the GPU: the row kernel (ait/ops/stem/stem_rows.cu, sm_90a: RGB
images whose rows are 16-byte multiples, conv rows of at most 112 pixels) and the tile kernel
(ait/ops/stem/stem.cu: every other case, and every case with AIT_STEM_ROWS=0), against the numpy
reference at small batches and odd image sizes (every tile- and run-edge case), and at batch 255
on 224x224 against the same graph compiled unfused (AIT_FUSE_STEM=0: s2d kernel + CUTLASS conv +
pool kernel).

On a mismatch the message says where: the worst element (n, p, q, channel), its tile (7x8
pooled outputs per CTA of the tile kernel) and place in the tile, and how many elements are off
per row and column of the tile, so a wrong halo, edge or fragment mapping shows as a pattern."""
import numpy as np
import pytest

import ait
from ait.ops.stem.cuda import ROWS_ENV
from ait.passes.fuse_stem import ENV
from tests.stem_util import build_stem, stem_params

pytestmark = pytest.mark.gpu
torch = pytest.importorskip("torch")

TILE = (7, 8)


@pytest.fixture(scope="module")
def target():
    return ait.detect_target()


def _compile(h, w, batch, fuse, target, tmp, c=3, rows=True):
    mp = pytest.MonkeyPatch()
    mp.setenv(ENV, "1" if fuse else "0")
    mp.setenv(ROWS_ENV, "1" if rows else "0")
    try:
        m, y = build_stem(h, w, batch, in_chans=c)
        kinds = [op.kind for op in ait.build_graph(y).ops]
        assert kinds == (["stem_conv_pool"] if fuse else ["space_to_depth", "conv2d", "pool2d"])
        name = f"stem{'f' if fuse else 'u'}{'r' if rows else 't'}_{h}x{w}c{c}"
        model = ait.compile_model(y, target, tmp.mktemp(name), name, profile=False)
    finally:
        mp.undo()
    return m, y, model


def _run(model, x, params, out_shape):
    model.set_many_constants({k: v.astype(np.float16) for k, v in params.items()})
    model.fold_constants()
    xt = torch.from_numpy(x.astype(np.float16)).cuda()
    out = torch.empty(out_shape, dtype=torch.float16, device="cuda")
    model.run_with_tensors([xt], [out])
    torch.cuda.synchronize()
    return out.float().cpu().numpy()


def _where(out, ref, bad) -> str:
    err = np.abs(out - ref)
    n, p, q, ch = np.unravel_index(int(np.argmax(np.where(np.isnan(err), np.inf, err))), err.shape)
    rows = np.bincount((np.nonzero(bad)[1] % TILE[0]), minlength=TILE[0])
    cols = np.bincount((np.nonzero(bad)[2] % TILE[1]), minlength=TILE[1])
    return (f"{int(bad.sum())} of {bad.size} elements off (nan: {int(np.isnan(out).sum())}); "
            f"worst |err| {err[n, p, q, ch]:.4g} at n={n} p={p} q={q} ch={ch}: got "
            f"{out[n, p, q, ch]:.5g}, want {ref[n, p, q, ch]:.5g}; tile ({p // TILE[0]}, "
            f"{q // TILE[1]}) of {out.shape[1]}x{out.shape[2]} pooled, place ({p % TILE[0]}, "
            f"{q % TILE[1]}); off per tile row {rows.tolist()}, per tile column {cols.tolist()}")


def _check(out, ref, what, atol=2e-3, rtol=4e-3):
    """fp16 outputs: both sides are the conv rounded to fp16 once (1/2 ulp = 2^-11 relative)
    after fp32 sums in different orders."""
    assert out.shape == ref.shape, f"{what}: shape {out.shape} vs {ref.shape}"
    bad = ~(np.abs(out - ref) <= atol + rtol * np.abs(ref))
    assert not bad.any(), f"{what}: {_where(out, ref, bad)}"


# rows: the row kernel where it applies (W * 3 % 8 == 0, W <= 224, RGB), else the tile kernel
@pytest.mark.parametrize("rows", [True, False], ids=["rows", "tile"])
@pytest.mark.parametrize("h, w, c", [(35, 37, 3), (56, 56, 3), (45, 61, 3), (9, 6, 3),
                                     (224, 224, 3), (33, 20, 4), (35, 40, 3), (9, 8, 3),
                                     (61, 216, 3), (230, 224, 3)])
def test_fused_against_reference(h, w, c, rows, target, tmp_path_factory):
    m, y, model = _compile(h, w, (1, 32), True, target, tmp_path_factory, c, rows)
    g = ait.build_graph(y)
    rng = np.random.default_rng(h * w)
    for s2d_weight in (True, False):  # the zero 8th taps skipped / a full weight
        params = stem_params(m, seed=h + w, s2d_weight=s2d_weight)
        for n in (1, 3, 17):
            x = rng.standard_normal((n, h, w, c)).astype(np.float16).astype(np.float32)
            ref = ait.run_reference(g, {"x": x}, params)["y"]
            out = _run(model, x, params, ref.shape)
            _check(out, ref, f"{h}x{w}x{c} batch {n} s2d_weight={s2d_weight} rows={rows}")
    model.close()


@pytest.mark.parametrize("rows", [True, False], ids=["rows", "tile"])
def test_batch_255_matches_unfused(rows, target, tmp_path_factory):
    h = w = 224
    m, _, fused = _compile(h, w, (1, 256), True, target, tmp_path_factory, rows=rows)
    _, _, unfused = _compile(h, w, (1, 256), False, target, tmp_path_factory)
    params = stem_params(m, seed=7)
    x = np.random.default_rng(3).standard_normal((255, h, w, 3)).astype(np.float32)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        a = _run(fused, x, params, (255, 56, 56, 64))
    # the kernel that ran is the one asked for (the row entry falls back without a word)
    names = [e.name for e in prof.events() if "stem_" in e.name and "kernel" in e.name]
    want = "stem_rows_kernel" if rows else "stem_conv_pool_kernel"
    assert names and all(want in nm for nm in names), names
    b = _run(unfused, x, params, (255, 56, 56, 64))
    assert np.abs(b).max() > 0
    _check(a, b, "batch 255 fused vs unfused")
    # one image against the numpy reference too (the unfused graph is not the judge alone)
    g = ait.build_graph(build_stem(h, w, 1)[1])
    ref = ait.run_reference(g, {"x": x[254:]}, params)["y"]
    _check(a[254:], ref, "batch 255, last image vs reference")
    fused.close()
    unfused.close()


@pytest.mark.parametrize("fuse, rows", [(True, True), (True, False), (False, True)])
def test_a_nan_pixel_reaches_the_output(fuse, rows, target, tmp_path_factory):
    """ReLU and max pool propagate NaN, as PyTorch's do (fmaxf would drop it and answer a
    non-finite input with finite numbers): a NaN pixel in image 0 gives NaN in the pooled
    outputs over it, only there, and leaves the other images as they were."""
    h = w = 56
    m, _, model = _compile(h, w, (1, 8), fuse, target, tmp_path_factory, rows=rows)
    params = stem_params(m, seed=11)
    x = np.random.default_rng(5).standard_normal((3, h, w, 3)).astype(np.float32)
    clean = _run(model, x, params, (3, 14, 14, 64))
    x[0, 29, 30, 1] = np.nan
    out = _run(model, x, params, (3, 14, 14, 64))
    nan = np.isnan(out[0])
    assert nan.any(), "the NaN pixel vanished"
    p, q, _ = np.nonzero(nan)
    assert p.min() >= 5 and p.max() <= 9 and q.min() >= 5 and q.max() <= 9, (p, q)
    assert np.isfinite(out[1:]).all() and np.array_equal(out[1:], clean[1:])
    model.close()
