#!/usr/bin/env python3
"""Export R-KDE's region proposer and feature extractor to ONNX files that plug into Rkde.MLNet.

Proposer ("rcnn" or "rpn" stage): input "image" float [1, 3, H, W] (RGB, 0-1) -> "boxes" [1, N, 4]
(x1, y1, x2, y2 in input pixels) and "scores" [1, N].
Feature extractor: inputs "image" [1, 3, H, W] and "boxes" [1, N, 4] -> "features" [1, N, 4096].

See README.md for usage. Needs torch 1.13+, torchvision 0.14+, onnx; numpy and Pillow for --reference.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torchvision.models import resnet50
from torchvision.models.detection import FasterRCNN
from torchvision.models.detection._utils import overwrite_eps
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.models.detection.faster_rcnn import FasterRCNN_ResNet50_FPN_Weights
from torchvision.models.detection.rpn import concat_box_prediction_layers
from torchvision.models.detection.transform import resize_boxes
from torchvision.ops import RoIAlign, boxes as box_ops
from torchvision.ops.misc import FrozenBatchNorm2d
from torchvision.transforms import Normalize, Resize

# Released with anomalib's R-KDE (Apache-2.0): the Fast R-CNN AlexNet-style feature extractor.
RKDE_FEATURE_WEIGHTS_URL = (
    "https://github.com/openvinotoolkit/anomalib/releases/download/rkde-weights/rkde_feature_extractor.pth"
)
FORMAT_VERSION = "1"


# ----------------------------------------------------------------------------------------------------------------
# Models


def build_faster_rcnn(pretrained: bool, **detector_options) -> FasterRCNN:
    """torchvision's fasterrcnn_resnet50_fpn, built the same way for COCO weights and for random weights.

    fasterrcnn_resnet50_fpn(weights=None) swaps the frozen batch norms for trainable ones; building the model
    here keeps one graph for both, so what is tested with random weights is what users export.
    """
    backbone = _resnet_fpn_extractor(resnet50(weights=None, norm_layer=FrozenBatchNorm2d), 3)
    model = FasterRCNN(backbone, num_classes=91, **detector_options)
    if pretrained:
        model.load_state_dict(FasterRCNN_ResNet50_FPN_Weights.COCO_V1.get_state_dict(progress=True))
    overwrite_eps(model, 0.0)  # as torchvision does for these (legacy) COCO weights
    return model.eval()


@torch.no_grad()
def spread_random_objectness(model: FasterRCNN, width: int, height: int, seed: int) -> None:
    """Random weights only: rescale the RPN's objectness layer so each anchor type's logits have a standard
    deviation of 2 on a seeded noise image, centred at -8 so the top proposals score around 0.5, where float32
    separates them well. torchvision's init (std 0.01 on unnormalised random features) packs the objectness into
    a 0.02-wide band with exact ties, which makes the proposal order arbitrary and the parity test meaningless.
    The graph is unchanged."""
    generator = torch.Generator().manual_seed(seed)
    images, _ = model.transform([torch.rand(3, height, width, generator=generator)])
    head = model.rpn.head
    logits, _ = head(list(model.backbone(images.tensors).values()))
    per_type = torch.cat([level[0].flatten(1) for level in logits], dim=1)  # [anchor types, locations]
    mean, std = per_type.mean(dim=1), per_type.std(dim=1)
    head.cls_logits.weight.mul_((2 / std).view(-1, 1, 1, 1))
    head.cls_logits.bias.copy_((head.cls_logits.bias - mean) * 2 / std - 8)


def detector_options(stage: str, score_threshold: float, max_detections: int) -> dict:
    """The Faster R-CNN settings of anomalib's RegionExtractor for a stage."""
    return dict(
        rpn_post_nms_top_n_test=max_detections if stage == "rpn" else 1000,
        rpn_score_thresh=score_threshold if stage == "rpn" else 0.0,
        box_score_thresh=score_threshold,
        box_nms_thresh=1.0,  # no per-class NMS: the pipeline applies class-agnostic NMS
        box_detections_per_img=1000,
    )


class RcnnProposer(nn.Module):
    """Faster R-CNN's final detections, all classes together: image [1,3,H,W] -> boxes [1,N,4], scores [1,N]."""

    def __init__(self, detector: FasterRCNN) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, image: torch.Tensor):
        detections = self.detector([image[0]])[0]
        return detections["boxes"].unsqueeze(0), detections["scores"].unsqueeze(0)


class RpnProposer(nn.Module):
    """Faster R-CNN's region proposals with their objectness (sigmoid), ordered by objectness.

    The proposals are clipped to the resized image and mapped back to input pixels with the resize ratio
    (torchvision's own mapping). anomalib instead divides by the padded batch size, which shrinks boxes by up to
    31 px worth of padding; pass anomalib_scaling=True to copy that.
    """

    def __init__(self, detector: FasterRCNN, anomalib_scaling: bool = False) -> None:
        super().__init__()
        self.transform = detector.transform
        self.backbone = detector.backbone
        self.rpn = detector.rpn
        self.anomalib_scaling = anomalib_scaling

    def forward(self, image: torch.Tensor):
        original_size = (image.shape[-2], image.shape[-1])
        images, _ = self.transform([image[0]])
        features = list(self.backbone(images.tensors).values())
        rpn = self.rpn
        objectness, deltas = rpn.head(features)
        anchors = rpn.anchor_generator(images, features)
        anchors_per_level = [o[0].shape[0] * o[0].shape[1] * o[0].shape[2] for o in objectness]
        objectness, deltas = concat_box_prediction_layers(objectness, deltas)
        proposals = rpn.box_coder.decode(deltas.detach(), anchors).view(1, -1, 4)
        boxes, scores = rpn.filter_proposals(proposals, objectness, images.image_sizes, anchors_per_level)
        boxes, scores = boxes[0], scores[0]
        if self.anomalib_scaling:
            padded = images.tensors.shape[-2:]
            boxes = box_ops.clip_boxes_to_image(boxes, (padded[0], padded[1]))
            boxes = resize_boxes(boxes, (padded[0], padded[1]), original_size)
        else:
            boxes = resize_boxes(boxes, images.image_sizes[0], original_size)
        return boxes.unsqueeze(0), scores.unsqueeze(0)


class RkdeFeatureExtractor(nn.Module):
    """R-KDE's feature extractor: AlexNet-style convolutions, RoIAlign 6x6 at 1/16, fc6/fc7 -> 4096-d.

    Attribute names match anomalib's module so its released state dict loads as is. The input transform
    (shorter side to 600, longer at most 1000, ImageNet normalisation) runs inside the graph and the boxes are
    scaled to the transformed size, as anomalib does.
    """

    def __init__(self) -> None:
        super().__init__()
        self.transform = nn.Sequential(
            Resize(size=600, max_size=1000),
            Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
        )
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.roi_align = RoIAlign(output_size=(6, 6), spatial_scale=1 / 16, sampling_ratio=0)
        self.classifier = nn.Sequential(
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
        )

    def forward(self, image: torch.Tensor, boxes: torch.Tensor):
        transformed = self.transform(image)
        scale_y = transformed.shape[-2] / image.shape[-2]
        scale_x = transformed.shape[-1] / image.shape[-1]
        scale = torch.tensor([scale_x, scale_y, scale_x, scale_y], dtype=boxes.dtype)
        rois = boxes[0] * scale
        rois = torch.cat([torch.zeros_like(rois[:, :1]), rois], dim=1)  # batch index 0
        pooled = self.roi_align(self.features(transformed), rois)
        return self.classifier(torch.flatten(pooled, 1)).unsqueeze(0)


def build_feature_extractor(pretrained: bool) -> RkdeFeatureExtractor:
    model = RkdeFeatureExtractor()
    if pretrained:
        state = torch.hub.load_state_dict_from_url(RKDE_FEATURE_WEIGHTS_URL, progress=True, map_location="cpu")
        model.load_state_dict(state)
    return model.eval()


# ----------------------------------------------------------------------------------------------------------------
# ONNX


def register_roi_align_opset16() -> None:
    """torchvision 0.14 exports RoiAlign without coordinate_transformation_mode; from opset 16 ONNX defaults that
    to half_pixel (aligned=True), which shifts every sample by half a pixel. State the mode explicitly."""
    from torch.onnx import register_custom_op_symbolic, symbolic_helper
    from torch.onnx.symbolic_opset9 import _cast_Long
    from torch.onnx.symbolic_opset11 import select, squeeze

    @symbolic_helper.parse_args("v", "v", "f", "i", "i", "i", "i")
    def roi_align(g, feature, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned):
        index = g.op("Constant", value_t=torch.tensor([0], dtype=torch.long))
        batch_indices = _cast_Long(g, squeeze(g, select(g, rois, 1, index), 1), False)
        coords = select(g, rois, 1, g.op("Constant", value_t=torch.tensor([1, 2, 3, 4], dtype=torch.long)))
        return g.op(
            "RoiAlign",
            feature,
            coords,
            batch_indices,
            coordinate_transformation_mode_s="half_pixel" if aligned else "output_half_pixel",
            spatial_scale_f=spatial_scale,
            output_height_i=pooled_height,
            output_width_i=pooled_width,
            sampling_ratio_i=max(sampling_ratio, 0),
        )

    register_custom_op_symbolic("torchvision::roi_align", roi_align, 16)


def export_onnx(model, args, path: Path, input_names, output_names, dynamic_axes, opset: int, metadata: dict):
    import onnx

    start = time.perf_counter()
    with torch.no_grad():
        torch.onnx.export(
            model,
            args,
            str(path),
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            do_constant_folding=True,
        )
    proto = onnx.load(str(path))
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    seconds = time.perf_counter() - start
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {seconds:.1f} s", flush=True)
    return seconds


# ----------------------------------------------------------------------------------------------------------------
# Reference outputs for the parity test


def post_process(boxes, scores, score_threshold, min_size, iou_threshold, max_detections):
    """The pipeline's region filter (golden fixture semantics): indices into boxes, in output order."""
    keep = torch.where(scores > score_threshold)[0]
    widths, heights = boxes[keep, 2] - boxes[keep, 0], boxes[keep, 3] - boxes[keep, 1]
    keep = keep[(widths >= min_size) & (heights >= min_size)]
    kept = box_ops.nms(boxes[keep], scores[keep], iou_threshold)
    return keep[kept][:max_detections]


def load_image(path: Path, width: int, height: int) -> torch.Tensor:
    import numpy as np
    from PIL import Image

    with Image.open(path) as img:
        rgb = np.asarray(img.convert("RGB"), dtype=np.float32)
    if rgb.shape[:2] != (height, width):
        sys.exit(f"--reference: {path} is {rgb.shape[1]}x{rgb.shape[0]}; the models take {width}x{height} images.")
    return torch.from_numpy(rgb / np.float32(255)).permute(2, 0, 1).unsqueeze(0).contiguous()


def write_reference(images_dir: Path, out_dir: Path, proposers: dict, features: nn.Module, opts) -> None:
    import numpy as np

    images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
    if not images:
        sys.exit(f"--reference: no images in {images_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for path in images:
        image = load_image(path, opts.width, opts.height)
        np.save(out_dir / f"{path.stem}.image.npy", image.numpy())
        for stage, proposer in proposers.items():
            with torch.no_grad():
                boxes, scores = proposer(image)
                kept = post_process(boxes[0], scores[0], opts.score_threshold, opts.min_box_size,
                                    opts.iou_threshold, opts.max_detections)
                kept_boxes = boxes[:, kept]
                feats = features(image, kept_boxes)[0]
            np.save(out_dir / f"{path.stem}.{stage}.features.npy", feats.numpy().astype(np.float32))
            entries.append(dict(
                image=path.name, image_tensor=f"{path.stem}.image.npy", stage=stage,
                boxes=boxes[0].tolist(), scores=scores[0].tolist(), kept_indices=kept.tolist(),
                features=f"{path.stem}.{stage}.features.npy", feature_dimension=int(feats.shape[-1]),
            ))
            print(f"reference {path.name} {stage}: {boxes.shape[1]} raw boxes, {kept.numel()} kept", flush=True)
    manifest = dict(
        width=opts.width, height=opts.height, score_threshold=opts.score_threshold,
        min_box_size=opts.min_box_size, iou_threshold=opts.iou_threshold,
        max_detections_per_image=opts.max_detections,
        models={stage: f"proposer-{stage}.onnx" for stage in proposers} | {"features": "rkde-features.onnx"},
        references=entries,
    )
    (out_dir / "reference.json").write_text(json.dumps(manifest))


# ----------------------------------------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    weights = parser.add_mutually_exclusive_group(required=True)
    weights.add_argument("--weights", choices=["pretrained"],
                         help="torchvision's COCO Faster R-CNN and anomalib's released R-KDE feature extractor "
                              "(downloaded, needs internet)")
    weights.add_argument("--random-weights", action="store_true",
                         help="seeded random weights: the same graphs, for tests on machines without internet")
    parser.add_argument("--seed", type=int, default=0, help="seed for --random-weights (default 0)")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "models",
                        help="folder for the ONNX files (default: models/ next to this script, git-ignored)")
    parser.add_argument("--width", type=int, default=360, help="model input width in pixels (default 360)")
    parser.add_argument("--height", type=int, default=240, help="model input height in pixels (default 240)")
    parser.add_argument("--stages", default="rcnn,rpn,features",
                        help="comma-separated subset of rcnn, rpn, features (default all three)")
    parser.add_argument("--score-threshold", type=float, default=0.001, help="RoiScoreThreshold (default 0.001)")
    parser.add_argument("--max-detections", type=int, default=100,
                        help="MaxDetectionsPerImage; the Rpn stage keeps this many proposals (default 100)")
    parser.add_argument("--min-box-size", type=float, default=25, help="MinBoxSize, for --reference (default 25)")
    parser.add_argument("--iou-threshold", type=float, default=0.3, help="IouThreshold, for --reference (default 0.3)")
    parser.add_argument("--anomalib-rpn-scaling", action="store_true",
                        help="map Rpn proposals back with the padded batch size, as anomalib does")
    parser.add_argument("--opset", type=int, default=16, help="ONNX opset (default 16; at least 11)")
    parser.add_argument("--reference", nargs=2, type=Path, metavar=("IMAGES_DIR", "OUT_DIR"),
                        help="also write PyTorch's own outputs on these images, for the parity test")
    opts = parser.parse_args(argv)
    opts.stages = [s.strip() for s in opts.stages.split(",") if s.strip()]
    unknown = set(opts.stages) - {"rcnn", "rpn", "features"}
    if unknown:
        parser.error(f"--stages: unknown {sorted(unknown)}; use rcnn, rpn, features")
    if opts.reference and "features" not in opts.stages:
        parser.error("--reference needs the features stage")
    if opts.opset < 11:
        parser.error("--opset: RoiAlign and NonMaxSuppression need opset 11 or later")
    return opts


def main(argv=None) -> None:
    opts = parse_args(argv)
    pretrained = opts.weights == "pretrained"
    if opts.random_weights:
        torch.manual_seed(opts.seed)
    if opts.opset >= 16:
        register_roi_align_opset16()
    opts.output.mkdir(parents=True, exist_ok=True)
    image = torch.rand(1, 3, opts.height, opts.width)
    common = dict(
        rkde_format_version=FORMAT_VERSION, exporter="Samples/Tools/ExportModels/export.py",
        weights="pretrained" if pretrained else f"random(seed={opts.seed})",
        width=opts.width, height=opts.height, torch=torch.__version__,
    )
    timings, proposers = {}, {}
    for stage in ("rcnn", "rpn"):
        if stage not in opts.stages:
            continue
        if opts.random_weights:
            torch.manual_seed(opts.seed)  # both stages get the same random detector
        detector = build_faster_rcnn(pretrained, **detector_options(stage, opts.score_threshold, opts.max_detections))
        if opts.random_weights:
            spread_random_objectness(detector, opts.width, opts.height, opts.seed)
        proposer = RcnnProposer(detector) if stage == "rcnn" else RpnProposer(detector, opts.anomalib_rpn_scaling)
        proposer.eval()
        timings[stage] = export_onnx(
            proposer, (image,), opts.output / f"proposer-{stage}.onnx", ["image"], ["boxes", "scores"],
            {"boxes": {1: "N"}, "scores": {1: "N"}}, opts.opset,
            common | dict(rkde_stage="proposer", roi_stage=stage, score_threshold=opts.score_threshold,
                          max_detections=opts.max_detections),
        )
        proposers[stage] = proposer
    if "features" in opts.stages:
        if opts.random_weights:
            torch.manual_seed(opts.seed)  # the same weights whichever stages are exported
        features = build_feature_extractor(pretrained)
        boxes = torch.tensor([[[10.0, 20.0, 120.0, 150.0], [0.0, 0.0, opts.width, opts.height]]])
        timings["features"] = export_onnx(
            features, (image, boxes), opts.output / "rkde-features.onnx", ["image", "boxes"], ["features"],
            {"boxes": {1: "N"}, "features": {1: "N"}}, opts.opset, common | dict(rkde_stage="features"),
        )
        if opts.reference:
            write_reference(*opts.reference, proposers, features, opts)
    print("export seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()), flush=True)


if __name__ == "__main__":
    main()
