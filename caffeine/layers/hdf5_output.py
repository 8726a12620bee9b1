"""HDF5Output layer: append its two bottoms to an HDF5 file (Caffe's HDF5OutputLayer).

``hdf5_output_param { file_name }``; bottoms ``data`` and ``label`` are written to the
datasets ``data`` and ``label``.  Caffe created the datasets on every forward and so
failed on the second batch; here every forward appends its rows (the datasets grow
along axis 0) and the file is flushed, so it is readable while the net runs.
Needs the optional ``h5py`` package.
"""
import numpy as np

from caffeine.errors import DataError
from caffeine.layers import register_layer
from caffeine.layers.base import Layer
from caffeine.layers.hdf5_data import import_h5py

DATASETS = ("data", "label")


@register_layer("HDF5Output")
class HDF5OutputLayer(Layer):
    exact_num_bottom = 2
    exact_num_top = 0

    def setup(self, bottom, top):
        h5py = import_h5py(self.name, self.type)
        self.file_name = self.layer_param.hdf5_output_param.file_name
        if not self.file_name:
            raise self.error("hdf5_output_param.file_name is not set", field="file_name")
        try:
            self.file = h5py.File(self.file_name, "w")
        except OSError as exc:
            raise self.error(f"cannot create HDF5 file '{self.file_name}': {exc}", cls=DataError,
                             file=self.file_name) from None
        self.rows_written = 0

    def reshape(self, bottom, top):
        if bottom[0].shape[0] != bottom[1].shape[0]:
            raise self.error("data and label must have the same number of rows",
                             expected=bottom[0].shape[0], found=bottom[1].shape[0])

    def forward_cpu(self, bottom, top):
        n = bottom[0].shape[0]
        for name, blob in zip(DATASETS, bottom):
            arr = np.asarray(blob.host_data_readonly)
            if name not in self.file:
                self.file.create_dataset(name, data=arr, maxshape=(None,) + arr.shape[1:],
                                         chunks=True)
            else:
                ds = self.file[name]
                if ds.shape[1:] != arr.shape[1:]:
                    raise self.error(f"bottom '{name}' changed shape", expected=ds.shape[1:],
                                     found=arr.shape[1:])
                ds.resize(ds.shape[0] + n, axis=0)
                ds[-n:] = arr
        self.rows_written += n
        self.file.flush()

    def forward_gpu(self, bottom, top):
        self.forward_cpu(bottom, top)

    def backward_cpu(self, top, propagate_down, bottom):
        pass  # Caffe: HDF5Output does not backpropagate

    backward_gpu = backward_cpu

    def close(self):
        if getattr(self, "file", None) is not None:
            self.file.close()
            self.file = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
