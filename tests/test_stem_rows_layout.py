"""The row kernel of the stem (ait/ops/stem/stem_rows.cu) modelled in numpy, without a GPU, and
checked against the op's reference (space_to_depth + conv + max pool, ait's numpy references):

  * the matrix product: the raw rows in the ring's byte layout (raw column x at byte
    8 (x + 3), 4 channels), the B operand read through the kernel's descriptor, the A operand
    from the kernel's A copy through its own (both descriptors' fields from the source's
    BEGIN/END block, the addresses by the Major-K no-swizzle rule of
    tests/test_stem_wgmma_layout.py) in the kernel's K order (filter row rr, column cc, channel
    c): every conv row equals the reference conv's;
  * the control flow: the warpgroups' runs of pooled rows, which conv rows each computes, the
    column max with the left neighbour from lane t - 1 (or t + 3 of the group before) over
    pre-ReLU values with -inf padding, the running max across rows with its two emit points and
    ReLU at the emit: every pooled row written exactly once, equal to the reference max pool,
    for odd and even conv row counts and for more warpgroups than pooled rows."""
import re

import numpy as np
import pytest

from ait.ir.epilogue import BIAS, BIAS_RELU
from ait.ops.conv2d.op import Conv2d
from ait.ops.pool.op import Pool2d, PoolKind
from ait.ops.space_to_depth.op import SpaceToDepth, s2d_conv_weight
from ait.ops.stem.cuda import HERE
from ait.ops.stem.op import StemConvPool
from tests.test_stem_wgmma_layout import _implied_byte

SRC = (HERE / "stem_rows.cu").read_text()


def _const(name: str) -> int:
    m = re.search(rf"constexpr (?:int|uint32_t) [^;]*\b{name} = ([^;,]+)[;,]", SRC)
    assert m, f"stem_rows.cu: no constant {name}"
    return m.group(1)


N = int(_const("kN"))
RING = int(_const("kRing"))
ROW_BYTES = (2 * N + 6) * 8
assert _const("kRowBytes") == "(2 * kN + 6) * 8", "the model's ring row no longer the kernel's"


_BLOCK = SRC[SRC.index("// BEGIN rows descriptors"):SRC.index("// END rows descriptors")]


def _field(name: str) -> int:
    return int(re.search(rf"\b{name} = (\d+)", _BLOCK).group(1))


def _make_desc(addr: int, lbo: int, sbo: int) -> int:
    return ((addr & 0x3FFFF) >> 4) | (lbo >> 4) << 16 | (sbo >> 4) << 32


def _desc(addr: int) -> int:
    """The kernel's B descriptor (b_desc) at a shared-memory byte address."""
    assert "uint64_t(kLBO >> 4) << 16" in _BLOCK and "uint64_t(kSBO >> 4) << 32" in _BLOCK
    return _make_desc(addr, _field("kLBO"), _field("kSBO"))


def _a_offset(m: int, k: int) -> int:
    """a_offset of the kernel (halves): step blocks of kAStepBytes, 8-row groups kASBO apart,
    the second 8 k kALBO on."""
    step, sbo, lbo = _field("kAStepBytes"), _field("kASBO"), _field("kALBO")
    return ((k >> 4) * step // 2 + (m >> 3) * sbo // 2 + ((k >> 3) & 1) * lbo // 2
            + (m & 7) * 8 + (k & 7))


def _ring_rows(x: np.ndarray, rows: range) -> np.ndarray:
    """The ring as bytes-as-halves: slot y % RING holds raw row y (zero outside the image)."""
    h, w, c = x.shape
    ring = np.zeros((RING, ROW_BYTES // 2), np.float64)
    for y in rows:
        slot = ring[y % RING]
        slot[:] = 0
        if 0 <= y < h:
            for xx in range(w):
                slot[4 * (xx + 3):4 * (xx + 3) + c] = x[y, xx]
    return ring


def _a_matrix(w_s2d: np.ndarray, c: int) -> np.ndarray:
    """A [64, 256] in the kernel's K order (its A copy): k = 32 rr + 4 cc + ch."""
    a = np.zeros((64, 256))
    for k in range(256):
        rr, cc, ch = k // 32, (k % 32) // 4, k % 4
        if ch < c:
            a[:, k] = w_s2d[:, rr >> 1, cc >> 1, ((rr & 1) * 2 + (cc & 1)) * c + ch]
    return a


def _a_copy(a: np.ndarray) -> np.ndarray:
    """The kernel's A copy (halves) of A [64, 256]: element (m, k) at a_offset(m, k)."""
    flat = np.full(64 * 256, np.nan)
    for m in range(64):
        for k in range(256):
            flat[_a_offset(m, k)] = a[m, k]
    assert not np.isnan(flat).any(), "the A copy is not a bijection"
    return flat


def _conv_row(ring: np.ndarray, acopy: np.ndarray, r: int, steps: int) -> np.ndarray:
    """acc [64 channels, N pixels] of conv row r from the ring and the A copy through the
    descriptors of each k16 step (a_desc: the copy's start + kAStepBytes a step)."""
    flat = ring.reshape(-1)
    acc = np.zeros((64, N))
    for st in range(steps):
        slot = (2 * r - 3 + st // 2) % RING
        desc = _desc(slot * ROW_BYTES + 32 * (st % 2))
        b = np.array([[flat[_implied_byte(desc, n, k) // 2] for k in range(16)]
                      for n in range(N)])
        adesc = _make_desc(st * _field("kAStepBytes"), _field("kALBO"), _field("kASBO"))
        a = np.array([[acopy[_implied_byte(adesc, m, k) // 2] for k in range(16)]
                      for m in range(64)])
        acc += a @ b.T
    return acc


def _reference(x, w_s2d, bias):
    """(conv + bias before ReLU [p, q, 64], the stem's output [po, qo, 64])."""
    y = SpaceToDepth(3, 16).reference(x[None])[0]
    conv = Conv2d(epilogue=BIAS).reference(y, w_s2d, bias)[0]
    relu = Conv2d(epilogue=BIAS_RELU).reference(y, w_s2d, bias)[0]
    return conv[0], Pool2d(PoolKind.MAX, 3, 2, 1).reference(relu)[0][0]


@pytest.mark.parametrize("h, w, full_weight", [(21, 40, False), (19, 24, True), (8, 224, False)])
def test_conv_rows_through_the_descriptor_equal_the_reference(h, w, full_weight):
    rng = np.random.default_rng(h * w)
    c = 3
    x = rng.standard_normal((h, w, c))
    w7 = rng.standard_normal((64, 7, 7, c))
    w_s2d = rng.standard_normal((64, 4, 4, 16)) if full_weight else s2d_conv_weight(w7, 16)
    bias = rng.standard_normal(64)
    conv, _ = _reference(x, w_s2d, bias)
    p, q = StemConvPool.conv_size(h, w)
    assert q <= N
    a = _a_matrix(w_s2d, c)
    skip = not a[:, 224:].any()
    assert skip != full_weight
    acopy = _a_copy(a)
    for r in sorted({0, 1, p // 2, p - 1}):
        ring = _ring_rows(x, range(2 * r - 3, 2 * r + 5))
        acc = _conv_row(ring, acopy, r, 14 if skip else 16)
        got = acc[:, :q].T + bias
        # the references compute in fp32
        np.testing.assert_allclose(got, conv[r], rtol=1e-5, atol=1e-5, err_msg=f"conv row {r}")


def _pool_cols(row: np.ndarray, q: int) -> np.ndarray:
    """The kernel's column max (pool_row): lanes t = 0..3 of 14 groups i; pooled column 4i + t
    takes conv columns 8i + 2t (e), + 1 (o) and the left neighbour (lane t - 1's o, or lane
    t + 3's o of group i - 1 at t = 0; -inf at column -1 and at columns >= q). row [N pixels,
    ch], before ReLU."""
    row = np.where((np.arange(N) < q)[:, None], row, -np.inf)
    out = np.zeros((N // 2, row.shape[1]))
    for t in range(4):
        prev = np.full(row.shape[1], -np.inf)
        for i in range(N // 8):
            e, o = row[8 * i + 2 * t], row[8 * i + 2 * t + 1]
            src_lane_t = (t + 3) % 4  # the shuffle's source lane, same g
            left_src = row[8 * i + 2 * src_lane_t + 1]
            left = left_src if t else prev
            prev = left_src
            out[4 * i + t] = np.maximum(np.maximum(e, o), left)
    return out


def _simulate(conv: np.ndarray, n: int, p: int, q: int, po: int, qo: int, groups: int):
    """The kernel's run / emit logic over `groups` warpgroups for n images of the same conv
    output: {(img, pooled row): value}, asserting each is written once."""
    written = {}
    rows = n * po
    for gid in range(groups):
        lo, hi = rows * gid // groups, rows * (gid + 1) // groups
        while lo < hi:
            img, pa = divmod(lo, po)
            pb = min(pa + (hi - lo), po)
            lo += pb - pa
            first = 2 * pa - 1 if pa > 0 else 0
            last = min(2 * pb - 1, p - 1)
            run = np.full((N // 2, conv.shape[-1]), -np.inf)  # conv row -1: padding
            for r in range(first, last + 1):
                hmax = _pool_cols(np.vstack([conv[r], np.zeros((N - q, conv.shape[-1]))]), q)
                done = None
                if r & 1:
                    done, run = np.maximum(run, hmax), hmax
                else:
                    run = np.maximum(run, hmax)
                pi = (r - 1) >> 1
                in_loop = bool(r & 1) and pi >= pa
                after = r == last and last < 2 * pb - 1
                assert not (in_loop and after)
                if in_loop or after:
                    key = (img, pi if in_loop else pb - 1)
                    assert key not in written, f"pooled row {key} written twice"
                    written[key] = np.maximum((done if in_loop else run)[:qo], 0)  # ReLU
    return written


@pytest.mark.parametrize("h, w, n, groups", [(224, 224, 2, 5), (35, 40, 3, 7), (18, 16, 1, 9),
                                             (9, 8, 2, 264), (224, 224, 1, 264)])
def test_runs_and_pool_emit_every_pooled_row_once(h, w, n, groups):
    rng = np.random.default_rng(h + w + n)
    x = rng.standard_normal((h, w, 3))
    w_s2d = s2d_conv_weight(rng.standard_normal((64, 7, 7, 3)) * 0.1, 16)
    conv, pooled = _reference(x, w_s2d, rng.standard_normal(64))
    p, q = conv.shape[:2]
    po, qo = pooled.shape[:2]
    written = _simulate(conv, n, p, q, po, qo, groups)
    assert sorted(written) == [(i, r) for i in range(n) for r in range(po)]
    for (img, r), v in written.items():
        np.testing.assert_array_equal(v, pooled[r], err_msg=f"pooled row {r} of image {img}")
