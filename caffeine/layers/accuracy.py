"""Accuracy: top-k classification accuracy (Caffe 1.0's AccuracyLayer).

bottom[0]: scores (outer, C, inner) around accuracy_param.axis; bottom[1]:
outer*inner labels.  A prediction is right when fewer than top_k classes score
>= the true class's score, the true class excluded.  Caffe counts every class
k with ``score[k] >= score[label]`` starting from -1 (the true class counts
itself), so a tie with the true class counts against it: scores (1, 1, 0) are
wrong at top_k=1 whichever of the two tied classes is the label.
top[0] = right / counted (0 when nothing is counted: every label ignored);
optional top[1] (shape (C,)) = per-class accuracy, 0 for a class with no label.
"""
import numpy as np

from caffeine.cuda_layers import accuracy_gpu
from caffeine.layers import register_layer
from caffeine.layers.base import Layer
from caffeine.layers.labels import canonical_axis, check_label_count, ignore_label_of, read_labels
from caffeine.layers.softmax import split_axis


@register_layer("Accuracy")
class AccuracyLayer(Layer):
    exact_num_bottom = 2
    min_top = 1
    max_top = 2
    has_gpu_kernel = True  # layers_cuda/accuracy.cu

    def setup(self, bottom, top):
        param = self.layer_param.accuracy_param
        self.top_k = int(param.top_k)
        if self.top_k < 1:
            raise self.error("top_k must be at least 1", field="accuracy_param.top_k",
                             expected=">= 1", found=self.top_k)
        self.ignore_label = ignore_label_of(param)

    def reshape(self, bottom, top):
        self.axis = canonical_axis(self, bottom[0], self.layer_param.accuracy_param.axis,
                                   "accuracy_param.axis")
        self.dims = split_axis(bottom[0], self.axis)
        outer, channels, inner = self.dims
        check_label_count(self, outer, inner, bottom[1], "accuracy axis")
        if self.top_k > channels:
            raise self.error("top_k must be less than or equal to the number of classes",
                             field="accuracy_param.top_k", expected=f"<= {channels}",
                             found=self.top_k)
        top[0].reshape(())
        if len(top) > 1:
            top[1].reshape((channels,))

    def forward_cpu(self, bottom, top):
        outer, channels, inner = self.dims
        scores = bottom[0].host_data_readonly.reshape(self.dims)
        labels, valid = read_labels(self, bottom[1], channels, self.ignore_label)
        labels = labels.reshape(outer, 1, inner)
        true_score = np.take_along_axis(scores, labels, axis=1)
        # classes scoring >= the true class, the true class itself excluded (Caffe's -1 start)
        better = (scores >= true_score).sum(axis=1) - 1
        right = (better < self.top_k).reshape(-1) & valid
        counted = int(valid.sum())
        top[0].data[...] = right.sum() / counted if counted else 0.0
        if len(top) > 1:
            flat = labels.reshape(-1)
            per_class_num = np.bincount(flat[valid], minlength=channels)
            per_class_right = np.bincount(flat[right], minlength=channels)
            per_class = np.zeros(channels)
            np.divide(per_class_right, per_class_num, out=per_class, where=per_class_num > 0)
            top[1].data[...] = per_class

    def forward_gpu(self, bottom, top):
        accuracy_gpu.forward_gpu(self, bottom, top)

    def backward_gpu(self, top, propagate_down, bottom):
        accuracy_gpu.backward_gpu(self, top, propagate_down, bottom)
