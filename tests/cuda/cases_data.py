"""Data layers in the GPU parity suite: their cases need files (an LMDB, images, a window file),
so they live in test_data_gpu.py / test_data_gpu_layers.py (GPU batches == CPU batches); here
they only declare that their forward runs the device transform (layers_cuda/data_transform.cu)."""
CASES = []
GPU_TYPES = {"Data", "ImageData", "WindowData"}
