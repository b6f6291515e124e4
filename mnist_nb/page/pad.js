// 第 11 章：在浏览器里读手写数字。ONNX Runtime Web 运行导出的模型；
// 预处理是第 8 章 digit_steps 的 JavaScript 版本，一步对一步。
'use strict';

// ---------------------------------------------------------------- 预处理（第 8 章）

const DIGIT_SIZE = 20;     // 数字最长边缩放到的像素数
const CANVAS = 28;         // 模型输入的边长
const THRESHOLD = 0.2;     // 去掉背景后，低于它的像素当作噪点清零
const MIN_CONTRAST = 0.1;  // 笔画至少要比背景亮（或暗）这么多，否则当作空白
const UNSURE_BELOW = 0.9;  // 最大的概率低于它时说“没把握”（和 Python 的 mnist_nb.predict.UNSURE_BELOW 一样，第 13 章检验过）

// Python 的 round：.5 舍入到偶数（round(12.5) == 12），和 JavaScript 的 Math.round 不同
function roundHalfEven(v) {
  const f = Math.floor(v), d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

// numpy 的 median：个数为偶数时取中间两个数的平均
function median(values) {
  const s = Float64Array.from(values).sort(), n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

// 图片四条边上的像素（和 Python 的 _border 同样的顺序）
function border(x, w, h) {
  const out = [];
  for (let c = 0; c < w; c++) out.push(x[c]);
  for (let c = 0; c < w; c++) out.push(x[(h - 1) * w + c]);
  for (let r = 1; r < h - 1; r++) out.push(x[r * w]);
  for (let r = 1; r < h - 1; r++) out.push(x[r * w + w - 1]);
  return out;
}

// 一维的抗锯齿双线性插值权重，照搬 PyTorch 的 F.interpolate(..., antialias=True, align_corners=False)
function aaWeights(inSize, outSize) {
  const scale = inSize / outSize;
  const support = scale >= 1 ? scale : 1, invscale = scale >= 1 ? 1 / scale : 1;
  const rows = [];
  for (let i = 0; i < outSize; i++) {
    const center = scale * (i + 0.5);
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    const ws = [];
    let total = 0;
    for (let j = xmin; j < xmax; j++) {
      const t = Math.abs((j - center + 0.5) * invscale), wj = t < 1 ? 1 - t : 0;
      ws.push(wj); total += wj;
    }
    rows.push({xmin, ws: ws.map(v => (total ? v / total : v))});
  }
  return rows;
}

function resizeAA(x, w, h, w2, h2) {
  const tmp = new Float64Array(h * w2), out = new Float32Array(h2 * w2);
  const cols = aaWeights(w, w2), rows = aaWeights(h, h2);
  for (let r = 0; r < h; r++)            // 先横向
    for (let c = 0; c < w2; c++) {
      const {xmin, ws} = cols[c];
      let s = 0;
      for (let k = 0; k < ws.length; k++) s += ws[k] * x[r * w + xmin + k];
      tmp[r * w2 + c] = s;
    }
  for (let r = 0; r < h2; r++) {         // 再纵向
    const {xmin, ws} = rows[r];
    for (let c = 0; c < w2; c++) {
      let s = 0;
      for (let k = 0; k < ws.length; k++) s += ws[k] * tmp[(xmin + k) * w2 + c];
      out[r * w2 + c] = Math.min(Math.max(s, 0), 1);
    }
  }
  return out;
}

// 灰度图（[0, 1]，0 是黑，按行存放的 w×h 数组）→ 模型看到的 28×28 图片（[0, 1]，背景是 0）。
// 找不到数字（整张图几乎是同一种颜色）时返回 null。
function preprocess(gray, w, h) {
  const inverted = median(border(gray, w, h)) > 0.5;
  let x = inverted ? gray.map(v => 1 - v) : Float32Array.from(gray);
  const bg = median(border(x, w, h));
  let top = -Infinity;
  for (const v of x) top = Math.max(top, v);
  if (top - bg < MIN_CONTRAST) return null;
  x = x.map(v => { const y = Math.min(Math.max((v - bg) / (top - bg), 0), 1); return y < THRESHOLD ? 0 : y; });
  let r0 = h, r1 = -1, c0 = w, c1 = -1;   // 裁到包围盒
  for (let r = 0; r < h; r++)
    for (let c = 0; c < w; c++)
      if (x[r * w + c] > 0) { r0 = Math.min(r0, r); r1 = Math.max(r1, r); c0 = Math.min(c0, c); c1 = Math.max(c1, c); }
  const ch = r1 - r0 + 1, cw = c1 - c0 + 1, crop = new Float32Array(ch * cw);
  for (let r = 0; r < ch; r++) for (let c = 0; c < cw; c++) crop[r * cw + c] = x[(r0 + r) * w + c0 + c];
  const longest = Math.max(ch, cw);       // 最长边缩放到 20 像素，保持长宽比
  const h2 = Math.max(1, roundHalfEven(ch * DIGIT_SIZE / longest));
  const w2 = Math.max(1, roundHalfEven(cw * DIGIT_SIZE / longest));
  const t = resizeAA(crop, cw, ch, w2, h2);
  let peak = 0;
  for (const v of t) peak = Math.max(peak, v);
  let mass = 0, my = 0, mx = 0;
  for (let r = 0; r < h2; r++)
    for (let c = 0; c < w2; c++) { const v = t[r * w2 + c] / peak; t[r * w2 + c] = v; mass += v; my += v * r; mx += v * c; }
  const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);   // 重心对准中心，但不让数字越出画布
  const oy = clamp(roundHalfEven(CANVAS / 2 - my / mass), CANVAS - h2);
  const ox = clamp(roundHalfEven(CANVAS / 2 - mx / mass), CANVAS - w2);
  const out = new Float32Array(CANVAS * CANVAS);
  for (let r = 0; r < h2; r++) for (let c = 0; c < w2; c++) out[(oy + r) * CANVAS + ox + c] = t[r * w2 + c];
  return out;
}

// RGBA 像素（canvas 的 getImageData）→ [0, 1] 的灰度，和 PIL 的 convert('L') 同一个公式
function rgbaToGray(data) {
  const g = new Float32Array(data.length / 4);
  for (let i = 0; i < g.length; i++)
    g[i] = Math.round((data[4 * i] * 299 + data[4 * i + 1] * 587 + data[4 * i + 2] * 114) / 1000) / 255;
  return g;
}

function softmax(logits) {
  const m = Math.max(...logits), e = Array.from(logits, v => Math.exp(v - m)), s = e.reduce((a, b) => a + b, 0);
  return e.map(v => v / s);
}

if (typeof module !== 'undefined') module.exports = {preprocess, rgbaToGray, softmax, roundHalfEven, median};

// ---------------------------------------------------------------- 页面

if (typeof document !== 'undefined') (() => {
  const SIZE = 280, PEN = 20;               // 和第 10 章的 Ink 一样：280×280 的白纸，20 像素粗的黑色圆头笔
  const $ = id => document.getElementById(id);
  const pad = $('pad'), ctx = pad.getContext('2d', {willReadFrequently: true});
  const view = $('view'), vctx = view.getContext('2d');
  const stats = window.padStats = {readyMs: null, busy: false, answers: [], strokes: [], input: null, top: null, error: null};
  let session = null, busy = false, dirty = false, last = null;

  function fail(msg) {
    stats.error = msg;
    const box = $('error');
    box.textContent = msg;
    box.hidden = false;
    $('status').textContent = '';
  }

  function clear() {
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, SIZE, SIZE);
    vctx.fillStyle = '#000';
    vctx.fillRect(0, 0, CANVAS, CANVAS);
    stats.strokes = []; stats.input = null; stats.top = null;
    $('digit').textContent = '？';
    $('unsure').textContent = '';
    $('top3').innerHTML = '';
  }

  function dot(x, y) {
    ctx.beginPath();
    ctx.arc(x, y, PEN / 2, 0, 2 * Math.PI);
    ctx.fill();
  }

  function point(e) {
    const r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * SIZE / r.width, (e.clientY - r.top) * SIZE / r.height];
  }

  pad.addEventListener('pointerdown', e => {
    e.preventDefault();
    pad.setPointerCapture(e.pointerId);
    last = point(e);
    stats.strokes.push([last]);
    ctx.fillStyle = '#000';
    dot(...last);
    request();
  });
  pad.addEventListener('pointermove', e => {
    if (!last) return;
    const p = point(e);
    stats.strokes[stats.strokes.length - 1].push(p);
    ctx.strokeStyle = '#000'; ctx.lineWidth = PEN; ctx.lineCap = 'round';
    ctx.beginPath(); ctx.moveTo(...last); ctx.lineTo(...p); ctx.stroke();
    dot(...p);
    last = p;
    request();
  });
  const up = () => { if (last) { last = null; request(); } };
  pad.addEventListener('pointerup', up);
  pad.addEventListener('pointercancel', up);
  $('clear').addEventListener('click', clear);

  // 写字时不停地识别：上一次还没算完就先记下“有新笔迹”，算完再来一次
  function request() {
    dirty = true;
    if (session && !busy) recognise();
  }

  async function recognise() {
    busy = stats.busy = true;
    while (dirty) {
      dirty = false;
      const t0 = performance.now();
      const x = preprocess(rgbaToGray(ctx.getImageData(0, 0, SIZE, SIZE).data), SIZE, SIZE);
      if (!x) continue;
      const out = await session.run({pixels: new ort.Tensor('float32', x, [1, 1, CANVAS, CANVAS])});
      const probs = softmax(out.logits.data);
      const top = probs.map((p, d) => [d, p]).sort((a, b) => b[1] - a[1]).slice(0, 3);
      show(x, top);
      const ms = performance.now() - t0;
      stats.answers.push(ms); stats.input = Array.from(x); stats.top = top;
      $('status').textContent = `识别一次用了 ${ms.toFixed(1)} 毫秒（预处理加模型）。`;
    }
    busy = stats.busy = false;
  }

  function show(x, top) {
    const img = vctx.createImageData(CANVAS, CANVAS);
    x.forEach((v, i) => { const b = Math.round(v * 255); img.data.set([b, b, b, 255], 4 * i); });
    vctx.putImageData(img, 0, 0);
    $('digit').textContent = top[0][0];
    $('unsure').textContent = top[0][1] < UNSURE_BELOW
      ? `没把握，也可能是 ${top[1][0]}（${(100 * top[1][1]).toFixed(1)}%）` : '';
    $('top3').innerHTML = top.map(([d, p]) =>
      `<div class="bar"><span>${d}</span><meter min="0" max="1" value="${p.toFixed(4)}"></meter>` +
      `<span>${(100 * p).toFixed(1)}%</span></div>`).join('');
  }

  async function start() {
    clear();
    if (typeof WebAssembly !== 'object') {
      fail('这个浏览器不能运行 WebAssembly，所以模型没法在页面里运行。请换用新版的 Chrome、Edge、Firefox 或 Safari。');
      return;
    }
    if (typeof ort === 'undefined') {
      fail('没有加载到 ONNX Runtime（ort/ort.wasm.min.js）。请用 mnist_nb_export 重新生成这个文件夹，并通过 http:// 网址打开页面。');
      return;
    }
    ort.env.wasm.numThreads = 1;   // 多线程要求网站开启跨源隔离（COOP/COEP），普通静态网站没有
    ort.env.wasm.wasmPaths = new URL('ort/', document.baseURI).href;
    let bytes;
    try {
      const r = await fetch('model.onnx');
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      bytes = new Uint8Array(await r.arrayBuffer());
    } catch (e) {
      fail(`模型文件 model.onnx 加载失败（${e.message}）。请确认它和页面在同一个文件夹里，并通过 http:// 网址打开页面，而不是直接双击文件。`);
      return;
    }
    try {
      session = await ort.InferenceSession.create(bytes, {executionProviders: ['wasm']});
      // 先空跑一次：第一次运行要准备内存，不让它算进读者写的第一个字
      await session.run({pixels: new ort.Tensor('float32', new Float32Array(CANVAS * CANVAS), [1, 1, CANVAS, CANVAS])});
    } catch (e) {
      fail(`模型没能在浏览器里运行（${e.message || e}）。WebAssembly 文件（ort/ 文件夹）可能缺失或被拦截；请用 mnist_nb_export 重新生成这个文件夹。`);
      return;
    }
    stats.readyMs = performance.now();
    $('status').textContent = `模型已就绪（打开页面后 ${(stats.readyMs / 1000).toFixed(2)} 秒）。在白色的方框里写一个数字。`;
    if (stats.strokes.length) request();
  }
  start();
})();
