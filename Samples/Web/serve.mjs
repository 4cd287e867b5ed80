// Serves the scoring page, onnxruntime-web and one exported model on localhost:
// `node serve.mjs --model model.onnx [--port 8000]`, then open http://127.0.0.1:8000/.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const types = { '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream', '.css': 'text/css' };

/** Starts the server; resolves to its URL and a close function. */
export function start({ model, port = 8000, host = '127.0.0.1' }) {
  if (!fs.existsSync(model)) throw new Error(`--model '${model}' does not exist; write one with rkde export.`);
  const routes = { '/': path.join(here, 'index.html'), '/index.html': path.join(here, 'index.html'), '/app.mjs': path.join(here, 'app.mjs'),
    '/onnx-metadata.mjs': path.join(here, 'onnx-metadata.mjs'), '/model.onnx': path.resolve(model) };
  const ort = path.join(here, 'node_modules', 'onnxruntime-web', 'dist');
  const server = http.createServer((request, response) => {
    const url = new URL(request.url, 'http://localhost');
    let file = routes[url.pathname];
    if (!file && url.pathname.startsWith('/ort/')) {
      const name = path.basename(url.pathname);
      if (/^ort[\w.-]*\.(mjs|wasm)$/.test(name)) file = path.join(ort, name);
    }
    if (!file || !fs.existsSync(file)) {
      response.writeHead(404).end('not found');
      return;
    }
    // Cross-origin isolation lets onnxruntime-web run its WebAssembly on several threads.
    response.writeHead(200, { 'Content-Type': types[path.extname(file)] ?? 'application/octet-stream',
      'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' });
    fs.createReadStream(file).pipe(response);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve({ url: `http://${host}:${server.address().port}/`, close: () => new Promise(r => server.close(r)) }));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
  const { url } = await start({ model: option('--model', 'model.onnx'), port: Number(option('--port', 8000)) });
  console.log(`Serving the R-KDE page at ${url} (Ctrl+C to stop).`);
}
