// NaN-propagating ReLU and max for our own kernels, as PyTorch's and CUTLASS's (ReLu uses
// max.NaN): fmaxf returns the other operand for a NaN, so a non-finite input would come out
// as a finite, wrong answer instead of a non-finite one that a caller can detect.
#pragma once

#include <cuda_fp16.h>

__device__ __forceinline__ float ait_relu(float v) { return v < 0.f ? 0.f : v; }
__device__ __forceinline__ float ait_max(float a, float b) { return (a > b || a != a) ? a : b; }
