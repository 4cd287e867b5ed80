// What the tests compare against, written by scripts/web-tests.sh: RKDE_WEB_DIR holds model.onnx (rkde export of a model
// fitted on assets/demo) and zip.jsonl (rkde score of RKDE_WEB_IMAGES with the ML.NET .zip).
import fs from 'node:fs';
import path from 'node:path';

export const dir = process.env.RKDE_WEB_DIR;
export const images = process.env.RKDE_WEB_IMAGES;
export const skip = !dir || !images ? 'RKDE_WEB_DIR / RKDE_WEB_IMAGES not set: run scripts/web-tests.sh' : false;
export const model = dir && path.join(dir, 'model.onnx');

/** The C# scores: image (relative path) → {score, boxes: [[x1, y1, x2, y2, s], …]}. */
export function expected() {
  return Object.fromEntries(fs.readFileSync(path.join(dir, 'zip.jsonl'), 'utf8').trim().split('\n')
    .map(line => JSON.parse(line)).map(r => [r.image, r]));
}
