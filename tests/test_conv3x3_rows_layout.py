"""The 3x3 conv of ait/ops/conv2d/conv3x3_rows.cu modelled in numpy, without a GPU, and checked
against the op's reference (ait's numpy conv2d):

  * the patch: each strip's rows y0 - 1 .. y0 + R and columns -1 .. W placed by the kernel's
    patch_bytes into its 8 channel planes (zero outside the image); every other patch byte NaN,
    so an output that read a byte the loader never wrote would come out NaN;
  * the matrix product: per k16 step t, B read through the kernel's descriptor (LBO the plane
    stride, SBO 128) from b_step_bytes(t, Wp) on, A from the kernel's weight copy (a_offset)
    through its own, both by the Major-K no-swizzle rule of tests/test_stem_wgmma_layout.py;
  * the epilogue: the m64nN accumulator fragment of each thread staged by the kernel's indices
    into [pixel][channel], the strip's valid pixels out, residual and ReLU after;
  * the work: every strip of every image, the last one partial when R does not divide H.
The output equals the reference conv for several widths, heights and epilogues."""
import re

import numpy as np
import pytest

from ait.ir.epilogue import BIAS, BIAS_ADD_RELU, BIAS_RELU, Activation
from ait.ops.conv2d.op import Conv2d
from ait.ops.conv2d.rows3x3 import SOURCE
from tests.test_stem_wgmma_layout import _implied_byte

SRC = SOURCE.read_text()
_BLOCK = SRC[SRC.index("// BEGIN c3rows descriptors"):SRC.index("// END c3rows descriptors")]


def _const(name: str) -> str:
    m = re.search(rf"constexpr (?:int|uint32_t) [^;]*\b{name} = ([^;,]+)[;,]", SRC)
    assert m, f"conv3x3_rows.cu: no constant {name}"
    return m.group(1).strip()


N = int(_const("kN"))
C = int(_const("kC"))
PLANE_USED = int(_const("kPlaneUsed"))
assert _const("kPlaneBytes") == "(kPlaneUsed + 1) * 16", "the model's plane no longer the kernel's"
PLANE_BYTES = (PLANE_USED + 1) * 16
PATCH_BYTES = 8 * PLANE_BYTES
STAGE_STRIDE = C + 8
assert _const("kStageStride") == "kC + 8"
MAX_WIDTH = (PLANE_USED - N - 1) // 2 - 2
assert _const("kMaxWidth") == "(kPlaneUsed - kN - 1) / 2 - 2"


def _field(name: str) -> int:
    return int(re.search(rf"\b{name} = (\d+)", _BLOCK).group(1))


# the kernel's formulas, transcribed; the asserts tie each to its source text
assert "return (k >> 4) * int(kAStepBytes / 2) + (m >> 3) * int(kASBO / 2) +\n" \
       "         ((k >> 3) & 1) * int(kALBO / 2) + (m & 7) * 8 + (k & 7);" in _BLOCK
assert "return 2 * (t & 3) * kPlaneBytes + ((t >> 2) / 3 * wp + (t >> 2) % 3) * 16;" in _BLOCK
assert "return c8 * kPlaneBytes + (pr * wp + pc) * 16;" in _BLOCK
assert "kBLBO = kPlaneBytes, kBSBO = 128" in _BLOCK


def _a_offset(m: int, k: int) -> int:
    step, sbo, lbo = _field("kAStepBytes"), _field("kASBO"), _field("kALBO")
    return ((k >> 4) * step // 2 + (m >> 3) * sbo // 2 + ((k >> 3) & 1) * lbo // 2
            + (m & 7) * 8 + (k & 7))


def _b_step_bytes(t: int, wp: int) -> int:
    return 2 * (t & 3) * PLANE_BYTES + ((t >> 2) // 3 * wp + (t >> 2) % 3) * 16


def _patch_bytes(c8: int, pr: int, pc: int, wp: int) -> int:
    return c8 * PLANE_BYTES + (pr * wp + pc) * 16


def _make_desc(addr: int, lbo: int, sbo: int) -> int:
    return ((addr & 0x3FFFF) >> 4) | (lbo >> 4) << 16 | (sbo >> 4) << 32


def _read(flat: np.ndarray, desc: int, rows: int) -> np.ndarray:
    """[rows, 16] operand of one k16 step through `desc` from the halves `flat`."""
    idx = np.array([[_implied_byte(desc, n, k) // 2 for k in range(16)] for n in range(rows)])
    return flat[idx]


def _weight_copy(w: np.ndarray) -> np.ndarray:
    """The kernel's step 1: OHWI row m (K = 576 = tap * 64 + channel) chunk k0 at a_offset."""
    flat = np.full(C * 9 * C, np.nan)
    rows = w.reshape(C, -1)
    for m in range(C):
        for k0 in range(0, 9 * C, 8):
            flat[_a_offset(m, k0):_a_offset(m, k0) + 8] = rows[m, k0:k0 + 8]
    assert not np.isnan(flat).any(), "the weight copy does not cover A"
    return flat


def _strip(x, wflat, bias, img, y0, rows):
    """acc [64, N] of the strip of `rows` rows from y0 of image img, as the kernel's steps 2-3."""
    _, h, w, _ = x.shape
    wp = w + 2
    patch = np.full(PATCH_BYTES // 2, np.nan)
    for px in range((rows + 2) * wp):
        pr, pc = divmod(px, wp)
        iy, ix = y0 - 1 + pr, pc - 1
        inside = 0 <= iy < h and 0 <= ix < w
        for c8 in range(8):
            at = _patch_bytes(c8, pr, pc, wp) // 2
            patch[at:at + 8] = x[img, iy, ix, 8 * c8:8 * c8 + 8] if inside else 0
    acc = np.zeros((C, N))
    for t in range(9 * C // 16):
        b = _read(patch, _make_desc(_b_step_bytes(t, wp), PLANE_BYTES, 128), N)
        a = _read(wflat, _make_desc(t * _field("kAStepBytes"), _field("kALBO"), _field("kASBO")),
                  C)
        with np.errstate(invalid="ignore"):
            acc += a @ b.T
    return acc


def _epilogue(acc, bias, residual, relu, y, img, y0, rows):
    """The kernel's steps 4-5: thread (warp, lane)'s accumulators 4j + e into the staging, then
    the valid pixels out with the residual and ReLU."""
    _, h, w, _ = y.shape
    wp = w + 2
    stage = np.full(N * STAGE_STRIDE, np.nan)
    for warp in range(4):
        for lane in range(32):
            m0, q2 = 16 * warp + (lane >> 2), 2 * (lane & 3)
            for j in range(N // 8):
                for e in range(4):
                    m, n = m0 + 8 * (e >> 1), 8 * j + q2 + (e & 1)  # the m64nN D fragment
                    at = (8 * j + q2) * STAGE_STRIDE + m0 + (e & 1) * STAGE_STRIDE + 8 * (e >> 1)
                    stage[at] = np.float16(acc[m, n] + bias[m])
    here = min(h - y0, rows)
    for px in range(here * w):
        r, xx = divmod(px, w)
        v = stage[(r * wp + xx) * STAGE_STRIDE:(r * wp + xx) * STAGE_STRIDE + C]
        if residual is not None:
            v = v + residual[img, y0 + r, xx]
        if relu:
            v = np.maximum(v, 0)
        assert np.isnan(y[img, y0 + r, xx]).all(), "a pixel written twice"
        y[img, y0 + r, xx] = v


@pytest.mark.parametrize("n, h, w, epilogue", [
    (2, 56, 56, BIAS_RELU), (1, 13, 56, BIAS_ADD_RELU), (1, 9, 28, BIAS),
    (1, 5, MAX_WIDTH, BIAS_RELU), (1, 4, 1, BIAS_ADD_RELU), (1, 6, 7, BIAS_RELU)])
def test_strips_through_the_descriptors_equal_the_reference(n, h, w, epilogue):
    rng = np.random.default_rng(h * 100 + w)
    x = rng.standard_normal((n, h, w, C)).astype(np.float16).astype(np.float64)
    wt = rng.standard_normal((C, 3, 3, C)).astype(np.float16).astype(np.float64) / 24
    bias = rng.standard_normal(C)
    residual = rng.standard_normal((n, h, w, C)) if epilogue.residual else None
    ref = Conv2d(pad=1, epilogue=epilogue).reference(x, wt, bias, residual)[0]
    rows = N // (w + 2)
    assert rows >= 3 and (rows + 2) * (w + 2) <= PLANE_USED
    wflat = _weight_copy(wt)
    y = np.full((n, h, w, C), np.nan)
    # the model takes a few strips of each image (first, a middle one, the last, partial or not)
    per_img = -(-h // rows)
    for img in range(n):
        for s in sorted({0, per_img // 2, per_img - 1}):
            acc = _strip(x, wflat, bias, img, s * rows, rows)
            _epilogue(acc, bias, residual, epilogue.activation is Activation.RELU, y, img, s * rows,
                      rows)
            got = y[img, s * rows:s * rows + rows]
            want = ref[img, s * rows:s * rows + rows]
            assert np.isfinite(got).all(), f"strip {s}: a valid output read an unloaded byte"
            # fp16 staging: a unit in the last place of values up to ~10
            np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-2, err_msg=f"strip {s}")


def test_descriptor_fields_fit():
    # the start address field holds 18 bits of a byte address; LBO / SBO 14 bits of 16 bytes
    assert PLANE_BYTES >> 4 < 1 << 14
    assert 3 * PATCH_BYTES + C * 9 * C * 2 <= 227 * 1024
    # every read of the widest case stays inside its plane
    wp = MAX_WIDTH + 2
    assert (N - 1) + 2 * wp + 2 <= PLANE_USED - 1


_TURNS = SRC[SRC.index("// BEGIN c3rows turns"):SRC.index("// END c3rows turns")]


@pytest.mark.parametrize("strips, ctas, nwg", [(3584, 132, 3), (448, 132, 3), (14, 5, 3),
                                               (7, 2, 3), (100, 10, 2), (5, 1, 3), (4, 2, 2)])
def test_turns_issue_every_strip_in_order_and_pair_every_wait(strips, ctas, nwg):
    """The kernel's turn logic run by a scheduler of the CTA's warpgroups: the wgmma batches are
    issued in strip order, every turn_wait is completed by exactly one turn_pass, no barrier is
    left with a pass that no one waits for, and nothing deadlocks."""
    assert "if (turns && (k > 0 || wg > 0)) turn_wait(wg);" in _TURNS
    assert "const long long next = wg + 1 < nwg ? st + 1 : st + groups - nwg + 1;" in _TURNS
    assert "if (next < s.strips) turn_pass(wg + 1 < nwg ? wg + 1 : 0);" in _TURNS
    groups = ctas * nwg
    for cta in range(ctas):
        # each warpgroup's program: ("wait", wg) / ("issue", st) / ("pass", to)
        progs = []
        for wg in range(nwg):
            prog, k = [], 0
            for st in range(nwg * cta + wg, strips, groups):
                if k > 0 or wg > 0:
                    prog.append(("wait", wg))
                prog.append(("issue", st))
                nxt = st + 1 if wg + 1 < nwg else st + groups - nwg + 1
                if nxt < strips:
                    prog.append(("pass", wg + 1 if wg + 1 < nwg else 0))
                k += 1
            progs.append(prog)
        pc, passes, issued = [0] * nwg, [0] * nwg, []
        while any(pc[g] < len(progs[g]) for g in range(nwg)):
            moved = False
            for g in range(nwg):
                if pc[g] == len(progs[g]):
                    continue
                kind, v = progs[g][pc[g]]
                if kind == "wait":
                    if passes[v] == 0:
                        continue
                    passes[v] -= 1
                elif kind == "pass":
                    assert passes[v] == 0, "a second pass before the wait"
                    passes[v] += 1
                else:
                    issued.append(v)
                pc[g] += 1
                moved = True
            assert moved, f"CTA {cta}: deadlock at {pc}"
        assert issued == sorted(issued), f"CTA {cta}: issue order {issued[:8]}"
        assert sorted(issued) == sorted(st for wg in range(nwg)
                                        for st in range(nwg * cta + wg, strips, groups))
        assert passes == [0] * nwg, f"CTA {cta}: passes nobody waits for {passes}"
