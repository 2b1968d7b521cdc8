"""Op families, one folder each: op.py (the IR op and its numpy reference), cuda.py (the
emitter), and for CUTLASS-backed families the kernel candidates."""
# Tensor.__add__ is ait.ops.elementwise.add, registered when that module loads: load it with
# any op family, so `a + b` works whichever ops a graph was built from.
from ait.ops import elementwise as _elementwise  # noqa: F401,E402
