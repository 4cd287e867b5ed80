// The page's logic: load the exported model with onnxruntime-web (WebAssembly), score each dropped or chosen image in the
// browser and draw its boxes coloured by score. Nothing leaves the browser.
import * as ort from './ort/ort.wasm.min.mjs';
import { onnxMetadata } from './onnx-metadata.mjs';

ort.env.wasm.wasmPaths = new URL('ort/', document.baseURI).href;
const status = document.getElementById('status');
const results = document.getElementById('results');
/** Every scored image, for scripts and tests: {name, score, isAnomaly, boxes: [[x1, y1, x2, y2, score], …]}. */
window.rkdeResults = [];

const bytes = await (await fetch('model.onnx')).arrayBuffer();
const meta = onnxMetadata(bytes);
const threshold = Number(meta.rkde_threshold);
const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
document.getElementById('model').textContent = `Model input ${meta.rkde_input_size}; threshold ${threshold.toFixed(4)} ` +
  `(false-positive rate ${(100 * Number(meta.rkde_threshold_false_positive_rate)).toFixed(1)} %); weights: ${meta.rkde_weights_licence}.`;
status.textContent = 'Model ready.';
document.body.dataset.ready = 'true';

/** Green below the threshold (yellower as a box nears it), red at or above it. */
function colour(score) {
  if (score >= threshold) return 'rgb(255, 40, 40)';
  const t = Math.max(0, Math.min(1, score / threshold));
  return `rgb(${Math.round(510 * t / 2)}, 200, 40)`;
}

async function score(file) {
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  const rgba = context.getImageData(0, 0, bitmap.width, bitmap.height).data;
  const rgb = new Uint8Array(bitmap.width * bitmap.height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i];
    rgb[j + 1] = rgba[i + 1];
    rgb[j + 2] = rgba[i + 2];
  }
  const out = await session.run({ image: new ort.Tensor('uint8', rgb, [bitmap.height, bitmap.width, 3]) });
  const boxes = [];
  for (let i = 0; i < out.box_scores.data.length; i++) boxes.push([...out.boxes.data.slice(4 * i, 4 * i + 4), out.box_scores.data[i]]);
  const result = { name: file.name, score: out.score.data[0], isAnomaly: Boolean(out.is_anomaly.data[0]), boxes };

  // The ten highest boxes, lowest drawn first so that the most anomalous is on top.
  context.lineWidth = Math.max(2, Math.min(bitmap.width, bitmap.height) / 160);
  for (const [x1, y1, x2, y2, s] of boxes.slice(0, 10).reverse()) {
    context.strokeStyle = colour(s);
    context.strokeRect(x1, y1, x2 - x1, y2 - y1);
  }
  const card = document.createElement('div');
  card.className = 'result';
  card.dataset.name = file.name;
  card.dataset.score = String(result.score);
  card.dataset.boxes = String(boxes.length);
  const caption = document.createElement('p');
  caption.innerHTML = `<b>${file.name}</b>: score ${result.score.toFixed(4)}, ${boxes.length} boxes, ` +
    `<span class="${result.isAnomaly ? 'anomalous' : ''}">${result.isAnomaly ? 'ANOMALOUS' : 'normal'}</span>`;
  card.append(caption, canvas);
  results.prepend(card);
  window.rkdeResults.push(result);
}

async function scoreAll(files) {
  for (const file of files) {
    status.textContent = `Scoring ${file.name} …`;
    try {
      await score(file);
      status.textContent = `Scored ${file.name}.`;
    } catch (e) {
      status.textContent = `${file.name} could not be scored: ${e.message}`;
    }
  }
}

const drop = document.getElementById('drop');
const picker = document.getElementById('files');
drop.addEventListener('click', () => picker.click());
picker.addEventListener('change', () => scoreAll([...picker.files]));
drop.addEventListener('dragover', e => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', e => {
  e.preventDefault();
  drop.classList.remove('over');
  scoreAll([...e.dataTransfer.files]);
});
