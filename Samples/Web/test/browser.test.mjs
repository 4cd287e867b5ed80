// The page in headless Chromium (Debian's, driven by playwright-core): images dropped on it and chosen with its file picker
// are scored in the browser by onnxruntime-web, shown with their score, verdict and boxes, as the C# .zip scores them.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { start } from '../serve.mjs';
import { skip, model, images, expected } from './fixture.mjs';

const browserPath = process.env.RKDE_CHROMIUM ?? '/usr/bin/chromium';

test('the page scores dropped and chosen images and draws their boxes', { skip, timeout: 600_000 }, async t => {
  const server = await start({ model, port: 0 });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'rkde-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: browserPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', e => errors.push(e.message));
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
    assert.match(await page.textContent('#model'), /Model input 360x240; threshold 0\.\d{4} \(false-positive rate 1\.0 %\)/);

    const reference = expected();
    const names = Object.keys(reference);
    const chosen = 'good/000.jpg', cardOf = name => name.replace('/', '_');
    // A drop of every demo test image: the files travel as a DataTransfer, as from a file manager.
    await page.evaluate(async files => {
      const transfer = new DataTransfer();
      for (const { name, base64 } of files)
        transfer.items.add(new File([Uint8Array.from(atob(base64), c => c.charCodeAt(0))], name, { type: 'image/jpeg' }));
      document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, names.map(name => ({ name: cardOf(name), base64: fs.readFileSync(path.join(images, name)).toString('base64') })));
    await page.waitForFunction(count => window.rkdeResults.length === count, names.length, { timeout: 240_000 });
    // And one more through the file picker.
    await page.setInputFiles('#files', path.join(images, chosen));
    await page.waitForFunction(count => window.rkdeResults.length === count, names.length + 1, { timeout: 120_000 });

    const shown = await page.evaluate(() => window.rkdeResults);
    let worst = 0;
    for (const [i, name] of [...names, chosen].entries()) {
      const want = reference[name], got = shown[i], card = i < names.length ? cardOf(name) : path.basename(chosen);
      assert.equal(got.name, card);
      worst = Math.max(worst, Math.abs(got.score - want.score));
      assert.ok(Math.abs(got.score - want.score) <= 1e-4, `${name}: ${got.score} in the browser, ${want.score} in C#`);
      assert.equal(got.boxes.length, want.boxes.length, `${name}: box count`);
      assert.equal(got.isAnomaly, Boolean(want.anomalous), `${name}: verdict`);
      if (got.boxes.length === 0) continue;
      const caption = await page.textContent(`.result[data-name="${card}"] p`);
      assert.match(caption, new RegExp(`score ${got.score.toFixed(4)}, ${want.boxes.length} boxes, (normal|ANOMALOUS)`));
      // The top box is drawn last: its left edge, half way down, has its colour (green to red), not the photo's.
      const [x1, y1, , y2] = got.boxes[0];
      const pixel = await page.evaluate(({ card, x, y }) => [...document.querySelector(`.result[data-name="${card}"] canvas`)
        .getContext('2d').getImageData(x, y, 1, 1).data], { card, x: Math.round(x1), y: Math.round((y1 + y2) / 2) });
      assert.ok(pixel[2] <= 45 && (pixel[1] >= 195 || pixel[0] === 255), `${name}: box edge pixel ${pixel}`);
    }
    t.diagnostic(`${names.length + 1} images scored in the browser; largest score difference from C# ${worst.toExponential(2)}`);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await server.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
});
