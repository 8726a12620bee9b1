"""What SoftmaxWithLoss and InfogainLoss share (both Caffe 1.0 loss layers over a softmax):
the (outer, C, inner) view around the softmax axis with one label per (outer, inner)
position, the probabilities of the forward (the optional second top receives them), the
normalizer, and the end of backward: zero gradient at ignored labels, times
loss_weight / normalizer, written (not accumulated) into the bottom diff."""
from caffeine.layers.base import LossLayer
from caffeine.layers.labels import canonical_axis, check_label_count, read_labels
from caffeine.layers.softmax import softmax, split_axis


class SoftmaxLossBase(LossLayer):
    exact_num_top = None
    min_top = 1
    max_top = 2
    axis_field = "softmax_param"  # where the softmax axis is set (InfogainLoss: infogain_loss_param)
    label_axis_name = "softmax axis"

    def reshape(self, bottom, top):
        super().reshape(bottom, top)
        self.axis = canonical_axis(self, bottom[0], getattr(self.layer_param, self.axis_field).axis,
                                   f"{self.axis_field}.axis")
        self.dims = split_axis(bottom[0], self.axis)
        outer, _, inner = self.dims
        check_label_count(self, outer, inner, bottom[1], self.label_axis_name)
        if len(top) >= 2:
            top[1].reshape(bottom[0].shape)

    def probabilities_and_labels(self, bottom):
        """(prob (outer, C, inner), labels (outer, inner) int, valid (outer, inner) bool)."""
        outer, channels, inner = self.dims
        prob = softmax(bottom[0].host_data_readonly.reshape(self.dims), axis=1)
        labels, valid = read_labels(self, bottom[1], channels, self.ignore_label)
        return prob, labels.reshape(outer, inner), valid.reshape(outer, inner)

    def finish_forward(self, top, loss, prob, labels, valid):
        """top[0] = loss / normalizer; keep what backward needs; probabilities to top[1]."""
        outer, _, inner = self.dims
        self.norm = self.normalizer(self.normalization, outer, inner, int(valid.sum()))
        top[0].data[...] = loss / self.norm
        self.prob, self.labels, self.valid = prob, labels, valid
        if len(top) >= 2:
            top[1].data.reshape(self.dims)[...] = prob

    def write_bottom_diff(self, top, bottom, diff):
        """Caffe's tail of Backward_cpu: ignored positions get 0, the rest loss_weight / norm."""
        diff *= self.valid[:, None, :]
        diff *= top[0].host_diff_readonly.flat[0] / self.norm
        bottom[0].diff.reshape(self.dims)[...] = diff
