// Scores images with an exported R-KDE model in Node: `node score.mjs model.onnx image.jpg …` prints one JSON line per
// image, {"image", "score", "isAnomaly", "boxes": [[x1, y1, x2, y2, score], …]}, boxes in the image's pixels, highest first.
// Images are decoded with sharp (libjpeg-turbo, libspng), which gives the pixels SkiaSharp gives ML.NET.
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { fileURLToPath } from 'node:url';

/** The image as the model's input: uint8 RGB [H, W, 3]. */
export async function rgbTensor(path) {
  const { data, info } = await sharp(path).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return new ort.Tensor('uint8', new Uint8Array(data.buffer, data.byteOffset, data.length), [info.height, info.width, 3]);
}

/** One image's result as `rkde score` writes it. */
export async function scoreImage(session, path) {
  const out = await session.run({ image: await rgbTensor(path) });
  const boxes = [];
  for (let i = 0; i < out.box_scores.data.length; i++)
    boxes.push([...out.boxes.data.subarray(4 * i, 4 * i + 4), out.box_scores.data[i]]);
  return { image: path, score: out.score.data[0], isAnomaly: Boolean(out.is_anomaly.data[0]), boxes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [model, ...images] = process.argv.slice(2);
  if (!model || images.length === 0) {
    console.error('usage: node score.mjs model.onnx image …');
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(model);
  for (const image of images) console.log(JSON.stringify(await scoreImage(session, image)));
}
