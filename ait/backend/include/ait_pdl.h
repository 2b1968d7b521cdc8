// Programmatic dependent launch (PDL). The runtime may launch a kernel with programmatic
// stream serialization: it then starts while the kernel before it is still running, so it
// must not read or write global memory before ait_wait_prior_grids(), which returns once
// every earlier kernel of the stream has finished and its writes are visible. Every kernel
// of our own calls it as its first statement, in every thread (a block that returned before
// it would let the kernel finish ahead of its predecessor). A no-op in a normal launch and
// below sm_90.
#pragma once

__device__ __forceinline__ void ait_wait_prior_grids() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Lets the next kernel of the stream launch before this one ends (a hint, not a sync).
__device__ __forceinline__ void ait_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}
