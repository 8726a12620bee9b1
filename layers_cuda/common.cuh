// Shared by every layers_cuda/*.cu file: the element type, Caffe's grid-stride loop,
// small math helpers and a counter-based random number generator.
//
// The same source compiles three ways:
//   - NVRTC (CuPy's RawModule, at run time): no system headers, so nothing is #included;
//   - nvcc (the compile test);
//   - g++ with host_shim.h force-included, so the kernel logic runs on the CPU in tests.
//
// Dtype is float, or double when the file is compiled with -DCAFFEINE_DOUBLE
// (caffeine.backend.get_kernel(..., dtype=np.float64) does that): the kernel names stay
// the same and the two precisions live in two compiled modules.
#pragma once

#ifdef CAFFEINE_DOUBLE
typedef double Dtype;
#else
typedef float Dtype;
#endif

// Caffe's CUDA_KERNEL_LOOP: thread i handles i, i + (all threads), i + 2 (all threads), ...
// so any launch configuration covers all n elements.
#define CUDA_KERNEL_LOOP(i, n) \
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

#define K_FLT_MAX 3.402823466e+38F
#define K_FLT_MIN 1.175494351e-38F

template <typename T> __device__ __forceinline__ T kmax(T a, T b) { return a > b ? a : b; }
template <typename T> __device__ __forceinline__ T kmin(T a, T b) { return a < b ? a : b; }

// Precision-matched math: expf for float, exp for double, ...
__device__ __forceinline__ float k_exp(float x) { return expf(x); }
__device__ __forceinline__ double k_exp(double x) { return exp(x); }
__device__ __forceinline__ float k_expm1(float x) { return expm1f(x); }
__device__ __forceinline__ double k_expm1(double x) { return expm1(x); }
__device__ __forceinline__ float k_log(float x) { return logf(x); }
__device__ __forceinline__ double k_log(double x) { return log(x); }
__device__ __forceinline__ float k_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double k_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float k_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double k_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float k_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double k_pow(double x, double y) { return pow(x, y); }
__device__ __forceinline__ float k_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double k_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float k_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double k_abs(double x) { return fabs(x); }

// Caffe's overflow-free sigmoid: 0.5 tanh(0.5 x) + 0.5.
__device__ __forceinline__ Dtype k_sigmoid(Dtype x) {
  return Dtype(0.5) * k_tanh(Dtype(0.5) * x) + Dtype(0.5);
}

// SplitMix64 in counter form: the k-th output of the stream seeded with `seed` is
// mix(seed + (k + 1) * golden_gamma).  Any element can draw its number independently, so
// a kernel is reproducible whatever the launch configuration, and the same stream can be
// regenerated in backward instead of storing a mask.
__device__ __forceinline__ unsigned long long k_splitmix64(unsigned long long seed,
                                                         unsigned long long counter) {
  unsigned long long z = seed + (counter + 1ULL) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Uniform in [0, 1) with 24 random bits (exactly representable as float).
__device__ __forceinline__ float k_uniform(unsigned long long seed, unsigned long long counter) {
  return (float)(k_splitmix64(seed, counter) >> 40) * (1.0f / 16777216.0f);
}
