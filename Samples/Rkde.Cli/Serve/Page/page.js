// The rkde serve page: each dropped or picked image is posted to /score as it is, then drawn with its boxes
// coloured by score, its score and verdict, newest first. R-KDE's scores crowd into a narrow band, so the colours
// span the scores on this page: green for the lowest box drawn, yellow at the threshold, red for the highest;
// every picture is redrawn when a new image widens that range.
"use strict";

const MaxBoxes = 10;   // as the overlays: boxes at or above the threshold (at least the top one), at most 10
const TopWithoutThreshold = 5;

const state = { threshold: null, scored: 0, anomalous: 0, failed: 0, queue: Promise.resolve(), shown: [] };

document.addEventListener("DOMContentLoaded", () => {
  const keyInput = document.getElementById("api-key");
  keyInput.value = sessionStorage.getItem("rkde-api-key") ?? "";
  keyInput.addEventListener("change", () => { sessionStorage.setItem("rkde-api-key", keyInput.value); loadHealth(); });
  const drop = document.getElementById("drop");
  drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", e => {
    e.preventDefault();
    drop.classList.remove("over");
    addFiles(e.dataTransfer.files);
  });
  document.getElementById("files").addEventListener("change", e => { addFiles(e.target.files); e.target.value = ""; });
  loadHealth();
});

async function loadHealth() {
  const model = document.getElementById("model");
  try {
    const response = await fetch("health");
    const health = await response.json();
    state.threshold = typeof health.threshold === "number" ? health.threshold : null;
    document.getElementById("key-box").hidden = !health.apiKeyRequired;
    model.textContent = `Model ${health.model} (version ${health.modelVersion})` +
      (state.threshold === null ? " · no threshold: scores only, no verdicts" : ` · threshold ${state.threshold}`);
    document.getElementById("legend-mid").textContent = state.threshold === null ? "between" : `the threshold (${state.threshold})`;
  } catch (error) {
    model.textContent = `The server did not answer /health: ${error}`;
  }
}

/** Scores the files one after another (the server queues too, but a page need not flood it). */
function addFiles(files) {
  for (const file of Array.from(files)) {
    const card = newCard(file.name);
    state.queue = state.queue.then(() => scoreInto(file, card));
  }
}

function newCard(name) {
  const card = document.getElementById("card-template").content.firstElementChild.cloneNode(true);
  card.dataset.status = "pending";
  card.dataset.name = name;
  card.querySelector(".name").textContent = name;
  card.querySelector(".score").textContent = "scoring…";
  document.getElementById("results").prepend(card);
  return card;
}

async function scoreInto(file, card) {
  const headers = {};
  const key = document.getElementById("api-key").value;
  if (key) headers["X-Api-Key"] = key;
  const started = performance.now();
  let answer;
  try {
    const response = await fetch("score", { method: "POST", body: file, headers });
    answer = await response.json();
    if (!response.ok) throw new Error(answer.error ?? `status ${response.status}`);
  } catch (error) {
    fail(card, error.message ?? String(error));
    return;
  }
  const latency = performance.now() - started;
  try {
    await draw(card, file, answer);
  } catch (error) {
    // Scored, but this browser cannot show the picture; the numbers still stand.
    card.querySelector(".error").hidden = false;
    card.querySelector(".error").textContent = `This browser could not draw the image (${error}); the score is the server's.`;
  }
  card.dataset.status = "scored";
  card.dataset.score = String(answer.score);
  card.querySelector(".score").textContent = `score ${answer.score.toFixed(4)}`;
  const verdict = card.querySelector(".verdict");
  if (answer.isAnomaly === null) {
    verdict.textContent = "no threshold";
  } else {
    verdict.textContent = answer.isAnomaly ? "ANOMALOUS" : "normal";
    verdict.classList.add(answer.isAnomaly ? "anomalous" : "normal");
  }
  card.querySelector(".latency").textContent = `${Math.round(latency)} ms`;
  state.scored++;
  if (answer.isAnomaly) state.anomalous++;
  summarise();
}

function fail(card, message) {
  card.dataset.status = "error";
  card.querySelector(".score").textContent = "not scored";
  const error = card.querySelector(".error");
  error.hidden = false;
  error.textContent = message;
  card.querySelector("canvas").hidden = true;
  card.querySelector(".box-list").hidden = true;
  state.failed++;
  summarise();
}

function summarise() {
  const parts = [`${state.scored} scored`];
  if (state.threshold !== null) parts.push(`${state.anomalous} anomalous`);
  if (state.failed > 0) parts.push(`${state.failed} refused`);
  document.getElementById("summary").textContent = parts.join(" · ");
}

/** The boxes drawn: those at or above the threshold (at least the top one, at most 10), or the top 5 without one. */
function shownBoxes(boxes, threshold) {
  return threshold === null
    ? boxes.slice(0, TopWithoutThreshold)
    : boxes.filter((b, i) => i === 0 || b[4] >= threshold).slice(0, MaxBoxes);
}

/** The range the colours span: the lowest and highest score of the boxes drawn on the page, and the threshold. */
function colourRange() {
  const scores = state.shown.flatMap(entry => entry.boxes.map(b => b[4]));
  if (state.threshold !== null) scores.push(state.threshold);
  return scores.length === 0 ? [0, 1] : [Math.min(...scores), Math.max(...scores)];
}

/** Where a score sits on the colour scale, 0 (green) to 1 (red): the threshold at 0.5, else the range's middle. */
function scalePosition(score, threshold, [low, high]) {
  if (threshold === null) return high > low ? (score - low) / (high - low) : 0.5;
  if (score < threshold) return threshold > low ? 0.5 * (score - low) / (threshold - low) : 0;
  return high > threshold ? 0.5 + 0.5 * (score - threshold) / (high - threshold) : 0.5;
}

/** Green (0) through yellow (0.5) to red (1), the colours of `rkde score --overlays`. */
function colourAt(position) {
  const s = Number.isNaN(position) ? 0 : Math.min(1, Math.max(0, position));
  const [r, g, b] = s < 0.5 ? [Math.trunc(510 * s), 200, 40] : [255, Math.trunc(200 * (1 - s) * 2), 40];
  return `rgb(${r}, ${g}, ${b})`;
}

async function draw(card, file, answer) {
  const boxes = shownBoxes(answer.boxes, answer.threshold);
  const list = card.querySelector(".boxes");
  card.querySelector(".box-list summary").textContent = `${boxes.length} of ${answer.boxes.length} boxes drawn`;
  for (const [x1, y1, x2, y2, s] of boxes) {
    const item = document.createElement("li");
    item.dataset.box = [x1, y1, x2, y2].join(",");
    item.dataset.score = String(s);
    item.textContent = `${s.toFixed(4)} at (${x1}, ${y1}) – (${x2}, ${y2})`;
    list.append(item);
  }
  const bitmap = await createImageBitmap(file);
  const entry = { canvas: card.querySelector("canvas"), bitmap, boxes, threshold: answer.threshold };
  const before = colourRange();
  state.shown.push(entry);
  const after = colourRange();
  if (after[0] !== before[0] || after[1] !== before[1]) {
    state.shown.forEach(paint);
  } else {
    paint(entry);
  }
}

/** Draws one picture and its boxes on its canvas, in the picture's own pixels. */
function paint(entry) {
  const { canvas, bitmap, boxes, threshold } = entry;
  const range = colourRange();
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(bitmap, 0, 0);
  const stroke = Math.max(2, Math.min(bitmap.width, bitmap.height) / 160);
  const fontSize = Math.max(11, stroke * 6);
  ctx.font = `${fontSize}px sans-serif`;
  // Lowest first, so the most anomalous box is drawn on top.
  for (const [x1, y1, x2, y2, s] of boxes.slice().reverse()) {
    const colour = colourAt(scalePosition(s, threshold, range));
    ctx.strokeStyle = colour;
    ctx.lineWidth = stroke;
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    label(ctx, s.toFixed(3), x1, y1, colour, fontSize);
  }
  canvas.dataset.colourRange = range.join(",");
}

function label(ctx, text, x, bottom, colour, fontSize) {
  const width = ctx.measureText(text).width;
  const top = Math.max(0, bottom - fontSize - 4);
  ctx.fillStyle = "rgba(0, 0, 0, 0.67)";
  ctx.fillRect(x, top, width + 6, fontSize + 4);
  ctx.fillStyle = colour;
  ctx.fillText(text, x + 3, top + fontSize);
}
