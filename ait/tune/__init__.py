"""Kernel selection by profiling: candidates, profilers, per-GPU runner, sqlite cache.

Public API:
    select_kernels(target, requests, profile=None) -> {request: candidate}
    Request                           what to choose a kernel for (the request classes are
                                      the op families': ait.ops.conv2d.ConvRequest, ...)
    kernel_objects(target, cands)     the cached objects the profilers were linked from
    find_candidate(target, request, name), candidates_for(target, request)
"""
from ait.tune.build import kernel_objects, kernel_sources
from ait.tune.cache import ProfileCache
from ait.tune.candidates import NoCandidateError, candidates_for, find_candidate
from ait.tune.requests import Request
from ait.tune.select import ProfileCacheMissError, ProfileError, select_kernels

__all__ = [
    "NoCandidateError", "ProfileCache", "ProfileCacheMissError",
    "ProfileError", "Request", "candidates_for", "find_candidate", "kernel_objects",
    "kernel_sources", "select_kernels",
]
