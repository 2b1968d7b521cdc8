"""Op families, one folder each: op.py (the IR op and its numpy reference), cuda.py (the
emitter), family.py (the family's `OpFamily`, registered with ait.backend.family), and for
CUTLASS-backed families the kernel candidates, their request, profiler and prune rules.

Every family is imported here, in this order, so that loading any op registers all of them
(the order is that of model.cu's prototypes and the own sources a model links). Tensor.__add__
is ait.ops.elementwise.add, registered when that module loads: `a + b` works whichever ops a
graph was built from."""
from ait.ops import conv2d, gemm, pool, pad, elementwise, reshape  # noqa: F401,I001
from ait.ops import space_to_depth, stem  # noqa: F401
