"""InnerProduct on the GPU: three cuBLAS GEMMs through cupy.matmul (Caffe's
inner_product_layer.cu does the same with caffe_gpu_gemm)."""
from caffeine.cuda_layers.launch import cp, data_ro, diff_ro


def forward_gpu(layer, bottom, top):
    xp = cp()
    x = data_ro(bottom[0]).reshape(layer.M, layer.K)
    y = top[0].gpu_data.reshape(layer.M, layer.N)
    w = data_ro(layer.blobs[0])
    xp.matmul(x, w if layer.transpose else w.T, out=y)
    if layer.bias_term:
        y += data_ro(layer.blobs[1])


def backward_gpu(layer, top, propagate_down, bottom):
    xp = cp()
    dy = diff_ro(top[0]).reshape(layer.M, layer.N)
    if layer.param_propagate_down[0]:
        x = data_ro(bottom[0]).reshape(layer.M, layer.K)
        wdiff = layer.blobs[0].gpu_diff
        if layer.transpose:
            wdiff += xp.matmul(x.T, dy)   # (K, N)
        else:
            wdiff += xp.matmul(dy.T, x)   # (N, K)
    if layer.bias_term and layer.param_propagate_down[1]:
        layer.blobs[1].gpu_diff[...] += dy.sum(axis=0)
    if propagate_down[0]:
        w = data_ro(layer.blobs[0])
        xp.matmul(dy, w.T if layer.transpose else w,
                  out=bottom[0].gpu_diff.reshape(layer.M, layer.K))
