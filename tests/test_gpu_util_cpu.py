"""tests/gpu_util.conv_candidates_first without a GPU: the GPU model tests force a kernel
through it, so where the conv2d family reads its candidates must stay where it patches
(a registry move once broke those tests on the GPU only)."""
from ait.backend.target import Target
from ait.ir.epilogue import BIAS_RELU
from ait.ops.conv2d import ConvRequest, family
from ait.ops.conv2d.cutlass3x import Conv2dCutlass3xPersistent
from ait.tune.candidates import candidates_for
from tests.gpu_util import conv_candidates_first

H100 = Target.for_arch(90)


def test_the_picked_candidate_comes_first(monkeypatch):
    r = ConvRequest.of(BIAS_RELU, 8, 56, 56, 64, 64, 3, 3, (1, 1))
    before = candidates_for(H100, r)
    assert not isinstance(before[0], Conv2dCutlass3xPersistent)
    conv_candidates_first(monkeypatch, lambda c: isinstance(c, Conv2dCutlass3xPersistent),
                          "persistent candidates", limit=1)
    after = candidates_for(H100, r)
    assert isinstance(after[0], Conv2dCutlass3xPersistent)
    assert sorted(c.name for c in after) == sorted(c.name for c in before)
    assert family.conv2d_candidates.__name__ == "picked_first"
