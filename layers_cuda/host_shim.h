// host_shim.h: compile a layers_cuda/*.cu file as plain C++ for the host, so the kernels'
// logic is tested on every CI run without a GPU (caffeine/testing/cuda_host.py does
//   g++ -x c++ -include host_shim.h -shared -fPIC file.cu).
//
// The CUDA qualifiers become nothing, blockIdx/blockDim/threadIdx/gridDim become globals,
// and shim_set_thread() picks which "thread" the next kernel call is: the Python launcher
// calls every kernel once per (block, thread) of its launch configuration, one after the
// other.  That is exact for the kernels here, in which every output element is written by
// exactly one thread and no thread reads what another writes (no shared memory, no
// __syncthreads, no atomics: using one fails to compile, on purpose).
#pragma once
#include <cmath>
#include <cstddef>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict

struct shim_uint3 {
  unsigned int x, y, z;
};

inline shim_uint3 blockIdx = {0, 0, 0};
inline shim_uint3 threadIdx = {0, 0, 0};
inline shim_uint3 blockDim = {1, 1, 1};
inline shim_uint3 gridDim = {1, 1, 1};

extern "C" __attribute__((visibility("default"))) void shim_set_thread(
    unsigned int grid, unsigned int block, unsigned int block_id, unsigned int thread_id) {
  gridDim.x = grid;
  blockDim.x = block;
  blockIdx.x = block_id;
  threadIdx.x = thread_id;
}
