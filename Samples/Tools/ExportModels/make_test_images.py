#!/usr/bin/env python3
"""Write a few seeded synthetic RGB test images (shapes on textured backgrounds) for the parity test."""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--width", type=int, default=360)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--seed", type=int, default=0)
    opts = parser.parse_args()
    rng = np.random.default_rng(opts.seed)
    opts.out_dir.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:opts.height, 0:opts.width]
    for i in range(opts.count):
        base = rng.uniform(40, 200, size=3)
        slope = rng.uniform(-0.3, 0.3, size=(2, 3))
        noise = rng.normal(0, 12, size=(opts.height, opts.width, 3))
        pixels = base + xx[..., None] * slope[0] + yy[..., None] * slope[1] + noise
        img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(img)
        for _ in range(rng.integers(3, 7)):
            w, h = rng.integers(25, opts.width // 3), rng.integers(25, opts.height // 2)
            x, y = rng.integers(0, opts.width - w), rng.integers(0, opts.height - h)
            color = tuple(int(c) for c in rng.integers(0, 256, size=3))
            shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
            shape([int(x), int(y), int(x + w), int(y + h)], fill=color)
        img.save(opts.out_dir / f"scene{i}.png")


if __name__ == "__main__":
    main()
