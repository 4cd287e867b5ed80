#!/usr/bin/python3
"""An independent numpy interpreter of NanoDet's TensorFlow.js graph: the reference the C# conversion is checked against
(Rkde.MLNet.Tests/NanoDet/NanoDetReferenceTests.cs runs it).

    nanodet_reference.py MODEL_JSON HEIGHT WIDTH INPUT.f32 OUT_DIR TENSOR [TENSOR ...]

Reads the graph and its float16 weight shards, runs it on INPUT.f32 (float32 [1, 3, HEIGHT, WIDTH], the network input
after NanoDet's normalisation) with TensorFlow's op semantics written out here (NHWC convolution, VALID padding,
ResizeBilinear with half-pixel centres, its four size constants scaled from 416 to HEIGHT × WIDTH), and writes each
TENSOR as OUT_DIR/<index>.f32 with its shape in OUT_DIR/shapes.json. Needs numpy only (Debian's python3-numpy).
"""
import json
import os
import sys

import numpy as np


def load(model_json):
    model = json.load(open(model_json))
    folder = os.path.dirname(model_json)
    weights = {}
    for group in model["weightsManifest"]:
        data = b"".join(open(os.path.join(folder, p), "rb").read() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            if w.get("quantization", {}).get("dtype") == "float16":
                a = np.frombuffer(data, np.float16, n, offset).astype(np.float32)
                offset += 2 * n
            elif w["dtype"] == "float32":
                a = np.frombuffer(data, np.float32, n, offset)
                offset += 4 * n
            else:
                a = np.frombuffer(data, np.int32, n, offset).astype(np.int64)
                offset += 4 * n
            weights[w["name"]] = a.reshape(w["shape"])
    return {n["name"]: n for n in model["modelTopology"]["node"]}, weights


def conv_nhwc(x, f, stride):
    kh, kw, _, co = f.shape
    n, h, w, _ = x.shape
    oh, ow = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = np.zeros((n, oh, ow, co), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride, :]
            out += np.tensordot(patch.astype(np.float64), f[i, j].astype(np.float64), axes=([3], [0]))
    return out.astype(np.float32)


def max_pool_nhwc(x, k, stride):
    n, h, w, c = x.shape
    oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.full((n, oh, ow, c), -np.inf, np.float32)
    for i in range(k):
        for j in range(k):
            out = np.maximum(out, x[:, i:i + stride * (oh - 1) + 1:stride, j:j + stride * (ow - 1) + 1:stride])
    return out


def resize_half_pixel_nhwc(x, size):
    def axis(out_size, in_size):
        source = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
        lower = np.floor(source).astype(int)
        return np.clip(lower, 0, in_size - 1), np.clip(lower + 1, 0, in_size - 1), (source - lower).astype(np.float32)
    y0, y1, fy = axis(size[0], x.shape[1])
    x0, x1, fx = axis(size[1], x.shape[2])
    rows = x[:, y0] * (1 - fy)[None, :, None, None] + x[:, y1] * fy[None, :, None, None]
    return rows[:, :, x0] * (1 - fx)[None, None, :, None] + rows[:, :, x1] * fx[None, None, :, None]


def main():
    model_json, height, width, input_path, out_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    tensors = sys.argv[6:]
    nodes, weights = load(model_json)
    x = np.fromfile(input_path, np.float32).reshape(1, 3, height, width)
    values = {}

    def get(name):
        name = name[:-2] if name.endswith(":0") else name
        if name in values:
            return values[name]
        base = name.split(":")[0]
        node = nodes[base]
        op, attr = node["op"], node.get("attr", {})
        inputs = [get(i) for i in node.get("input", []) if not i.startswith("^")]
        if op == "Const":
            r = weights[base]
        elif op == "Placeholder":
            r = x
        elif op == "Identity":
            r = inputs[0]
        elif op == "Transpose":
            r = np.transpose(inputs[0], inputs[1])
        elif op == "Pad":
            r = np.pad(inputs[0], inputs[1])
        elif op == "PadV2":
            r = np.pad(inputs[0], inputs[1], constant_values=float(inputs[2]))
        elif op == "Conv2D":
            assert attr["padding"]["s"] == "VkFMSUQ=", "VALID padding only"
            r = conv_nhwc(inputs[0], inputs[1], int(attr["strides"]["list"]["i"][1]))
        elif op == "MaxPool":
            r = max_pool_nhwc(inputs[0], int(attr["ksize"]["list"]["i"][1]), int(attr["strides"]["list"]["i"][1]))
        elif op in ("Add", "AddV2"):
            r = inputs[0] + inputs[1]
        elif op == "LeakyRelu":
            r = np.where(inputs[0] > 0, inputs[0], inputs[0] * attr["alpha"]["f"])
        elif op == "Sigmoid":
            r = 1 / (1 + np.exp(-inputs[0]))
        elif op == "ConcatV2":
            r = np.concatenate(inputs[:-1], axis=int(inputs[-1]))
        elif op == "ResizeBilinear":
            r = resize_half_pixel_nhwc(inputs[0], [int(inputs[1][0]) * height // 416, int(inputs[1][1]) * width // 416])
        elif op == "SplitV":
            parts = np.split(inputs[0], np.cumsum(inputs[1])[:-1], axis=int(inputs[2]))
            for k, part in enumerate(parts):
                values[base if k == 0 else f"{base}:{k}"] = part
            return values[name]
        elif op == "Reshape":
            r = inputs[0].reshape(inputs[1])
        elif op == "SparseToDense":
            r = np.full(inputs[1], inputs[3])
            indices = inputs[0] if inputs[0].ndim == 2 else inputs[0].reshape(-1, 1)
            for index, value in zip(indices, np.broadcast_to(inputs[2], (len(indices),))):
                r[tuple(index)] = value
        else:
            raise SystemExit(f"nanodet_reference.py: op {op} (node {base}) is not interpreted")
        values[name] = r
        return r

    os.makedirs(out_dir, exist_ok=True)
    shapes = []
    for k, tensor in enumerate(tensors):
        v = np.ascontiguousarray(get(tensor), dtype=np.float32)
        v.tofile(os.path.join(out_dir, f"{k}.f32"))
        shapes.append(list(v.shape))
    json.dump(shapes, open(os.path.join(out_dir, "shapes.json"), "w"))


if __name__ == "__main__":
    main()
