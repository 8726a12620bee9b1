"""pycaffe's Classifier: a Net that turns H×W×C images into class probabilities.

    clf = caffeine.Classifier("deploy.prototxt", "w.caffemodel", image_dims=(256, 256),
                              mean=np.array([104, 117, 123]), raw_scale=255, channel_swap=(2, 1, 0))
    probs = clf.predict([caffeine.io.load_image("cat.jpg")], oversample=True)   # N x classes

``predict`` resizes every image to ``image_dims``, takes the centre crop of the net's input
size (or the 10 crops of ``caffeine.io.oversample``: 4 corners + centre, and their mirrors,
whose predictions are averaged), preprocesses with ``caffeine.io.Transformer`` (transpose to
C×H×W, channel swap, ×raw_scale, −mean, ×input_scale) and runs the net in batches.
"""
import numpy as np

from caffeine import io as cio
from caffeine.errors import ConfigError
from caffeine.net import Net


class Classifier(Net):
    def __init__(self, model_file, pretrained_file=None, image_dims=None, mean=None, input_scale=None,
                 raw_scale=None, channel_swap=None, batch_size=None):
        if pretrained_file:
            super().__init__(model_file, pretrained_file, 1)
        else:
            super().__init__(model_file, 1)
        if not self.inputs:
            raise ConfigError("the net has no Input layer (a deploy net is needed)", file=model_file)
        in_ = self.inputs[0]
        shape = self.blobs[in_].shape
        if len(shape) != 4:
            raise ConfigError("the net's input must be N x C x H x W", blob=in_, expected="4 axes", found=shape)
        self.transformer = cio.Transformer({in_: shape})
        self.transformer.set_transpose(in_, (2, 0, 1))
        if mean is not None:
            self.transformer.set_mean(in_, mean)
        if input_scale is not None:
            self.transformer.set_input_scale(in_, input_scale)
        if raw_scale is not None:
            self.transformer.set_raw_scale(in_, raw_scale)
        if channel_swap is not None:
            self.transformer.set_channel_swap(in_, channel_swap)
        self.crop_dims = np.array(shape[2:])
        self.image_dims = np.array(image_dims if image_dims is not None else self.crop_dims, dtype=int)
        if self.image_dims.shape != (2,) or np.any(self.image_dims < self.crop_dims):
            raise ConfigError("image_dims must be (height, width) at least the net's input size",
                              field="image_dims", expected=f">= {tuple(int(d) for d in self.crop_dims)}",
                              found=tuple(int(d) for d in np.ravel(self.image_dims)))
        self.batch_size = int(batch_size or max(shape[0], 10))
        self.channels = shape[1]

    def predict(self, inputs, oversample=True):
        """inputs: iterable of H×W×K images (float, as caffeine.io.load_image gives).
        Returns N×classes predictions (averaged over the 10 crops when oversample)."""
        inputs = list(inputs)
        if not inputs:
            raise ConfigError("predict() needs at least one image")
        h, w = (int(d) for d in self.image_dims)
        batch = np.zeros((len(inputs), h, w, inputs[0].shape[2]), dtype=np.float32)
        for i, image in enumerate(inputs):
            batch[i] = cio.resize_image(image, (h, w))
        if oversample:
            batch = cio.oversample(batch, self.crop_dims)
        else:
            # the centre crop, as pycaffe: image_dims/2 -+ crop_dims/2, truncated to ints
            centre = np.array([h, w]) / 2.0
            box = np.concatenate([centre - self.crop_dims / 2.0, centre + self.crop_dims / 2.0]).astype(int)
            batch = batch[:, box[0]:box[2], box[1]:box[3], :]
        in_ = self.inputs[0]
        caffe_in = np.stack([self.transformer.preprocess(in_, image) for image in batch])
        predictions = self._forward_batches(caffe_in)
        if oversample:
            predictions = predictions.reshape(len(predictions) // 10, 10, -1).mean(axis=1)
        return predictions

    def _forward_batches(self, caffe_in):
        """pycaffe's forward_all: run every row of caffe_in through the net, batch by batch."""
        in_, out_name = self.inputs[0], self.outputs[0]
        outputs = []
        for start in range(0, len(caffe_in), self.batch_size):
            chunk = caffe_in[start:start + self.batch_size]
            if self.blobs[in_].shape != chunk.shape:
                self.blobs[in_].reshape(*chunk.shape)
                self.reshape()
            out = self.forward(**{in_: chunk})[out_name]
            outputs.append(np.array(out, dtype=np.float32).reshape(len(chunk), -1))
        return np.concatenate(outputs)
