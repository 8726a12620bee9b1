// im2col / col2im (Caffe's im2col.cu, with dilation) for a block of `num` images at once,
// plus the layout kernels the convolution GEMMs need.
//
// Column layout: row (c, k) = c * K + k (K = prod(kernel), kernel offsets row-major),
// column (b, o) = b * L + o (L = output positions of one image).  For num = 1 this is
// exactly Caffe's column buffer; for num > 1 one GEMM covers the whole block:
//     rows (C_out, num*L) = W (C_out, C*K) @ cols (C*K, num*L).
#include "common.cuh"

// One thread per (c, b, h_col, w_col): copies its kernel window into K column rows.
extern "C" __global__ void im2col_2d(
    const int n, const Dtype* data_im, const int num, const int channels, const int height,
    const int width, const int kernel_h, const int kernel_w, const int pad_h, const int pad_w,
    const int stride_h, const int stride_w, const int dilation_h, const int dilation_w,
    const int height_col, const int width_col, Dtype* data_col) {
  const int spatial = height_col * width_col;
  CUDA_KERNEL_LOOP(index, n) {
    const int w_col = index % width_col;
    const int h_col = (index / width_col) % height_col;
    const int b = (index / spatial) % num;
    const int c = index / (spatial * num);
    const int h_offset = h_col * stride_h - pad_h;
    const int w_offset = w_col * stride_w - pad_w;
    Dtype* col = data_col + ((long long)c * kernel_h * kernel_w * num + b) * spatial
                 + h_col * width_col + w_col;
    const Dtype* im = data_im + ((long long)b * channels + c) * height * width;
    for (int i = 0; i < kernel_h; ++i) {
      for (int j = 0; j < kernel_w; ++j) {
        const int h_im = h_offset + i * dilation_h;
        const int w_im = w_offset + j * dilation_w;
        *col = (h_im >= 0 && w_im >= 0 && h_im < height && w_im < width)
                   ? im[h_im * width + w_im] : Dtype(0);
        col += (long long)num * spatial;
      }
    }
  }
}

// One thread per image element: sums every column entry that im2col copied from it
// (Caffe's col2im_gpu_kernel: no atomics, each output written once).
extern "C" __global__ void col2im_2d(
    const int n, const Dtype* data_col, const int num, const int channels, const int height,
    const int width, const int kernel_h, const int kernel_w, const int pad_h, const int pad_w,
    const int stride_h, const int stride_w, const int dilation_h, const int dilation_w,
    const int height_col, const int width_col, Dtype* data_im) {
  const int spatial = height_col * width_col;
  const int kernel_extent_w = (kernel_w - 1) * dilation_w + 1;
  const int kernel_extent_h = (kernel_h - 1) * dilation_h + 1;
  CUDA_KERNEL_LOOP(index, n) {
    const int w_im = index % width + pad_w;
    const int h_im = (index / width) % height + pad_h;
    const int c = (index / (width * height)) % channels;
    const int b = index / (width * height * channels);
    // the output positions whose (dilated) window covers this element
    const int w_col_start = (w_im < kernel_extent_w) ? 0 : (w_im - kernel_extent_w) / stride_w + 1;
    const int w_col_end = kmin(w_im / stride_w + 1, width_col);
    const int h_col_start = (h_im < kernel_extent_h) ? 0 : (h_im - kernel_extent_h) / stride_h + 1;
    const int h_col_end = kmin(h_im / stride_h + 1, height_col);
    Dtype val = 0;
    for (int h_col = h_col_start; h_col < h_col_end; ++h_col) {
      for (int w_col = w_col_start; w_col < w_col_end; ++w_col) {
        int h_k = h_im - h_col * stride_h;
        int w_k = w_im - w_col * stride_w;
        if (h_k % dilation_h == 0 && w_k % dilation_w == 0) {
          h_k /= dilation_h;
          w_k /= dilation_w;
          const long long row = ((long long)c * kernel_h + h_k) * kernel_w + w_k;
          val += data_col[(row * num + b) * spatial + h_col * width_col + w_col];
        }
      }
    }
    data_im[index] = val;
  }
}

#define MAX_ND 8  // spatial axes supported by the N-D kernels

struct NdGeom {
  const int *im_shape, *col_shape, *kernel, *pad, *stride, *dilation;
  int im_size, spatial, kernel_size;
};

// geom holds 6 * num_axes ints (see im2col_nd); also the image, column and kernel sizes.
__device__ __forceinline__ NdGeom unpack_nd_geom(const int* geom, const int num_axes) {
  NdGeom g;
  g.im_shape = geom;
  g.col_shape = geom + num_axes;
  g.kernel = geom + 2 * num_axes;
  g.pad = geom + 3 * num_axes;
  g.stride = geom + 4 * num_axes;
  g.dilation = geom + 5 * num_axes;
  g.im_size = g.spatial = g.kernel_size = 1;
  for (int a = 0; a < num_axes; ++a) {
    g.im_size *= g.im_shape[a];
    g.spatial *= g.col_shape[a];
    g.kernel_size *= g.kernel[a];
  }
  return g;
}

// geom holds 6 * num_axes ints: image shape, column (output) shape, kernel, pad, stride,
// dilation, each per spatial axis.
extern "C" __global__ void im2col_nd(
    const int n, const Dtype* data_im, const int num, const int channels, const int num_axes,
    const int* geom, Dtype* data_col) {
  const NdGeom g = unpack_nd_geom(geom, num_axes);
  const int *im_shape = g.im_shape, *col_shape = g.col_shape, *kernel = g.kernel;
  const int *pad = g.pad, *stride = g.stride, *dilation = g.dilation;
  const int im_size = g.im_size, spatial = g.spatial, kernel_size = g.kernel_size;
  CUDA_KERNEL_LOOP(index, n) {
    const int o = index % spatial;
    const int b = (index / spatial) % num;
    const int c = index / (spatial * num);
    int d_out[MAX_ND];
    int rem = o;
    for (int a = num_axes - 1; a >= 0; --a) {
      d_out[a] = rem % col_shape[a];
      rem /= col_shape[a];
    }
    const Dtype* im = data_im + ((long long)b * channels + c) * im_size;
    Dtype* col = data_col + ((long long)c * kernel_size * num + b) * spatial + o;
    for (int k = 0; k < kernel_size; ++k) {
      // kernel offset k, row-major over the kernel axes
      int krem = k;
      int im_index = 0;
      bool inside = true;
      int mul = 1;
      for (int a = num_axes - 1; a >= 0; --a) {
        const int d_k = krem % kernel[a];
        krem /= kernel[a];
        const int d_im = d_out[a] * stride[a] - pad[a] + d_k * dilation[a];
        inside = inside && d_im >= 0 && d_im < im_shape[a];
        im_index += d_im * mul;
        mul *= im_shape[a];
      }
      *col = inside ? im[im_index] : Dtype(0);
      col += (long long)num * spatial;
    }
  }
}

extern "C" __global__ void col2im_nd(
    const int n, const Dtype* data_col, const int num, const int channels, const int num_axes,
    const int* geom, Dtype* data_im) {
  const NdGeom g = unpack_nd_geom(geom, num_axes);
  const int *im_shape = g.im_shape, *col_shape = g.col_shape, *kernel = g.kernel;
  const int *pad = g.pad, *stride = g.stride, *dilation = g.dilation;
  const int im_size = g.im_size, spatial = g.spatial, kernel_size = g.kernel_size;
  CUDA_KERNEL_LOOP(index, n) {
    const int b = index / (im_size * channels);
    const int c = (index / im_size) % channels;
    int d_im[MAX_ND], d_start[MAX_ND], d_end[MAX_ND], d_col[MAX_ND];
    int rem = index % im_size;
    bool empty = false;
    for (int a = num_axes - 1; a >= 0; --a) {
      d_im[a] = rem % im_shape[a] + pad[a];
      rem /= im_shape[a];
      const int extent = (kernel[a] - 1) * dilation[a] + 1;
      d_start[a] = (d_im[a] < extent) ? 0 : (d_im[a] - extent) / stride[a] + 1;
      d_end[a] = kmin(d_im[a] / stride[a] + 1, col_shape[a]);
      d_col[a] = d_start[a];
      empty = empty || d_start[a] >= d_end[a];
    }
    Dtype val = 0;
    // visit every output position in the box [d_start, d_end) (an odometer over the axes)
    while (!empty) {
      int k = 0, o = 0;
      bool hit = true;
      for (int a = 0; a < num_axes; ++a) {
        const int d_k = d_im[a] - d_col[a] * stride[a];
        hit = hit && d_k % dilation[a] == 0;
        k = k * kernel[a] + d_k / dilation[a];
        o = o * col_shape[a] + d_col[a];
      }
      if (hit) {
        val += data_col[(((long long)c * kernel_size + k) * num + b) * spatial + o];
      }
      int a = num_axes - 1;
      while (a >= 0) {
        if (++d_col[a] < d_end[a]) break;
        d_col[a] = d_start[a];
        --a;
      }
      if (a < 0) break;
    }
    data_im[index] = val;
  }
}

// GEMM rows (C, num*L) -> images (num, C, L), plus bias[c] when has_bias.
extern "C" __global__ void rows_to_images(
    const int n, const Dtype* rows, const int num, const int channels, const int spatial,
    const Dtype* bias, const int has_bias, Dtype* images) {
  CUDA_KERNEL_LOOP(index, n) {
    const int o = index % spatial;
    const int c = (index / spatial) % channels;
    const int b = index / (spatial * channels);
    Dtype v = rows[((long long)c * num + b) * spatial + o];
    images[index] = has_bias ? v + bias[c] : v;
  }
}

// images (num, C, L) -> GEMM rows (C, num*L).
extern "C" __global__ void images_to_rows(
    const int n, const Dtype* images, const int num, const int channels, const int spatial,
    Dtype* rows) {
  CUDA_KERNEL_LOOP(index, n) {
    const int o = index % spatial;
    const int b = (index / spatial) % num;
    const int c = index / (spatial * num);
    rows[index] = images[((long long)b * channels + c) * spatial + o];
  }
}

// images (num, C, L) += bias[c].
extern "C" __global__ void add_channel_bias(
    const int n, const Dtype* bias, const int channels, const int spatial, Dtype* images) {
  CUDA_KERNEL_LOOP(index, n) {
    images[index] += bias[(index / spatial) % channels];
  }
}
