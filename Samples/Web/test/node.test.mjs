// The exported model run by ONNX Runtime for Node on the demo images gives the scores and boxes the C# .zip gives.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { scoreImage } from '../score.mjs';
import { onnxMetadata } from '../onnx-metadata.mjs';
import { skip, model, images, expected } from './fixture.mjs';

test('Node scores every demo image as the ML.NET .zip does', { skip }, async t => {
  const session = await ort.InferenceSession.create(model);
  const reference = expected();
  const names = Object.keys(reference);
  assert.ok(names.length >= 20, `${names.length} reference images`);
  let boxes = 0, worst = 0;
  for (const name of names) {
    const got = await scoreImage(session, path.join(images, name));
    const want = reference[name];
    worst = Math.max(worst, Math.abs(got.score - want.score));
    assert.ok(Math.abs(got.score - want.score) <= 1e-5, `${name}: score ${got.score} in Node, ${want.score} in C#`);
    assert.equal(got.boxes.length, want.boxes.length, `${name}: box count`);
    got.boxes.forEach((b, i) => {
      for (let c = 0; c < 4; c++) assert.ok(Math.abs(b[c] - want.boxes[i][c]) <= 0.01, `${name}: box ${i} coordinate ${c}: ${b[c]} vs ${want.boxes[i][c]}`);
      assert.ok(Math.abs(b[4] - want.boxes[i][4]) <= 1e-5, `${name}: box ${i} score`);
    });
    boxes += got.boxes.length;
  }
  assert.ok(boxes > 0);
  t.diagnostic(`${names.length} images, ${boxes} boxes; largest score difference from C# ${worst.toExponential(2)}`);
});

test('the file carries its threshold, and is_anomaly is score at or above it', { skip }, async () => {
  const meta = onnxMetadata(fs.readFileSync(model));
  assert.equal(meta.rkde_format_version, '3');
  assert.equal(meta.rkde_input_size, '360x240');
  assert.equal(meta.rkde_threshold_false_positive_rate, '0.01');
  assert.match(meta.rkde_weights_licence, /^MIT/);
  const threshold = Number(meta.rkde_threshold);
  assert.ok(threshold > 0 && threshold < 1, `threshold ${threshold}`);
  const session = await ort.InferenceSession.create(model);
  const reference = expected();
  let flagged = 0;
  for (const name of Object.keys(reference)) {
    const got = await scoreImage(session, path.join(images, name));
    assert.equal(got.isAnomaly, got.score >= Math.fround(threshold), name);
    flagged += got.isAnomaly;
  }
  assert.equal(flagged, Object.values(reference).filter(r => r.anomalous).length, 'as many flagged as the .zip flags');
});

test('an input of the wrong rank, channel count or type gets ONNX Runtime\'s error', { skip }, async () => {
  const session = await ort.InferenceSession.create(model);
  await assert.rejects(session.run({ image: new ort.Tensor('uint8', new Uint8Array(24 * 32 * 3), [1, 24, 32, 3]) }), /rank/i);
  await assert.rejects(session.run({ image: new ort.Tensor('uint8', new Uint8Array(24 * 32 * 4), [24, 32, 4]) }), /dimensions/i);
  await assert.rejects(session.run({ image: new ort.Tensor('float32', new Float32Array(24 * 32 * 3), [24, 32, 3]) }), /type/i);
});
