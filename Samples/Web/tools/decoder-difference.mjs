// How much a JPEG decoder other than libjpeg-turbo moves the scores: scores the images of zip.jsonl (written by
// scripts/web-tests.sh) from pixels decoded by jpeg-js (pure JavaScript) and by sharp (libjpeg-turbo, as SkiaSharp in the
// .zip), and prints the largest and mean score difference from the .zip's for each.
// Usage: node tools/decoder-difference.mjs ARTIFACTS_DIR IMAGES_DIR   (e.g. ../../artifacts/web ../../assets/demo/test)
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import jpeg from 'jpeg-js';
import { rgbTensor } from '../score.mjs';

const [dir, images] = process.argv.slice(2);
const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'));
const reference = fs.readFileSync(path.join(dir, 'zip.jsonl'), 'utf8').trim().split('\n').map(line => JSON.parse(line));
const decoders = {
  'jpeg-js 0.4.4': file => {
    const image = jpeg.decode(fs.readFileSync(file), { useTArray: true, formatAsRGBA: false });
    return new ort.Tensor('uint8', image.data, [image.height, image.width, 3]);
  },
  'sharp (libjpeg-turbo)': rgbTensor,
};
for (const [decoder, decode] of Object.entries(decoders)) {
  let worst = 0, sum = 0;
  for (const r of reference) {
    const out = await session.run({ image: await decode(path.join(images, r.image)) });
    const difference = Math.abs(out.score.data[0] - r.score);
    worst = Math.max(worst, difference);
    sum += difference;
  }
  console.log(`${decoder}: ${reference.length} images, score difference from the .zip largest ${worst.toExponential(2)}, mean ${(sum / reference.length).toExponential(2)}`);
}
