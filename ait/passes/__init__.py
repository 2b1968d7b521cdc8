"""Graph passes, run in this order by ``ait.compiler.build_graph`` on a copy of the frontend's
graph (copy_graph)."""
from ait.passes.copy_graph import copy_graph
from ait.passes.fuse_epilogues import fuse_epilogues
from ait.passes.fuse_stem import fuse_stem
from ait.passes.name_graph import name_graph
from ait.passes.plan_memory import CompiledGraph, MemoryPlan, plan_memory
from ait.passes.sort_graph import sort_graph

__all__ = ["CompiledGraph", "copy_graph", "fuse_epilogues", "fuse_stem", "name_graph", "MemoryPlan",
           "plan_memory", "sort_graph"]
