// Accuracy (Caffe 1.0's accuracy_layer.cu) over scores seen as (outer, channels, inner) and
// outer*inner labels.  Three deterministic steps, no atomics, results left on the device:
//   accuracy_sample  one thread per (outer, inner) sample: its state (bad/ignored/wrong/right);
//   accuracy_count   thread (row, chunk): counted / right / bad samples of one chunk of samples,
//                    row = one class (for the per-class top) or the last row = every class;
//   accuracy_finish  one thread per row: sums its chunks, writes right / counted.
#include "labels.cuh"

// k_label_state's -1 / 0 / 1, then RIGHT for a counted sample the net classified right
#define ACC_BAD -1     // label neither in [0, channels) nor ignore_label
#define ACC_IGNORED 0  // label == ignore_label: not counted
#define ACC_WRONG 1
#define ACC_RIGHT 2

// Caffe's rule: count the classes k with score[k] >= score[label], starting from -1 so the
// true class does not count itself; the sample is right when fewer than top_k remain.  A tie
// with the true class therefore counts against it.  (>= is false for NaN, as on the CPU.)
extern "C" __global__ void accuracy_sample(const int n, const Dtype* scores, const Dtype* label,
                                           const int channels, const int inner, const int top_k,
                                           const int has_ignore, const int ignore_label,
                                           int* state) {
  CUDA_KERNEL_LOOP(index, n) {
    int lv;
    const int st = k_label_state(label[index], channels, has_ignore, ignore_label, &lv);
    if (st != ACC_WRONG) {
      state[index] = st;
      continue;
    }
    const int s = index % inner;
    const Dtype* col = scores + (long long)(index / inner) * channels * inner + s;
    const Dtype truth = col[(long long)lv * inner];
    int better = -1;
    for (int c = 0; c < channels && better < top_k; ++c) {
      if (col[(long long)c * inner] >= truth) ++better;
    }
    state[index] = better < top_k ? ACC_RIGHT : ACC_WRONG;
  }
}

// Thread (r, j) looks at samples [j*chunk, (j+1)*chunk): partial[(r, j)] = (counted, right, bad),
// where r < classes keeps only samples labelled r and r == classes keeps every sample.  Bad
// labels are counted in every row, so they poison every output (see accuracy_finish).
extern "C" __global__ void accuracy_count(const int n, const int* state, const Dtype* label,
                                          const int samples, const int chunk, const int classes,
                                          int* partial) {
  const int chunks = kmax((samples + chunk - 1) / chunk, 1);  // one empty chunk when samples == 0
  CUDA_KERNEL_LOOP(index, n) {
    const int r = index / chunks;
    const int j = index % chunks;
    const int end = kmin((j + 1) * chunk, samples);
    int counted = 0, right = 0, bad = 0;
    for (int i = j * chunk; i < end; ++i) {
      const int st = state[i];
      if (st == ACC_BAD) {
        ++bad;
      } else if (st != ACC_IGNORED && (r == classes || (int)label[i] == r)) {
        ++counted;
        if (st == ACC_RIGHT) ++right;
      }
    }
    partial[3 * index] = counted;
    partial[3 * index + 1] = right;
    partial[3 * index + 2] = bad;
  }
}

// Thread r: row r's totals over its chunks; value = right / counted, 0 when nothing counted
// (Caffe's rule for top[0] and for a class without labels).  The division is done in double,
// as the CPU layer does, then rounded to Dtype.  A bad label makes the value NaN: the CPU
// layer raises a DataError instead, which would need a readback here (Caffe's GPU kernel
// reads out of bounds).  Row `classes` goes to accuracy[0], row r < classes to per_class[r].
extern "C" __global__ void accuracy_finish(const int n, const int* partial, const int chunks,
                                           const int classes, Dtype* accuracy, Dtype* per_class) {
  CUDA_KERNEL_LOOP(r, n) {
    long long counted = 0, right = 0, bad = 0;
    const int* row = partial + 3LL * r * chunks;
    for (int j = 0; j < chunks; ++j) {
      counted += row[3 * j];
      right += row[3 * j + 1];
      bad += row[3 * j + 2];
    }
    const double zero = 0.0;
    const double value = bad > 0 ? zero / zero : (counted > 0 ? (double)right / (double)counted : 0.0);
    if (r == classes) {
      accuracy[0] = Dtype(value);
    } else {
      per_class[r] = Dtype(value);
    }
  }
}
