"""Browser test of chapter 11's static page: the page that `mnist_nb_export` builds, served on localhost, in
headless Chromium driven by Playwright.

- `mnist_nb_export` with no `--model` builds the page from chapter 13's robust CNN (the default: read from the
  model cache when chapters 10, 11 or 13 already trained it, trained once otherwise), as a reader would.
- 7, 1, 0, 4, 3 are written with the mouse and 2 with touch events (chapter 8's stroke templates); every
  answer must be right, and Python's `preprocess_digit` must give the same digit for the same strokes.
- A phone-sized window (390×844): screenshot, and nothing cut off at the sides.
- When WebAssembly, the runtime files or the model cannot load, the page shows a Chinese message.

Figures (time until the model is ready, the earliest first answer (ready + first recognition), time per answer, pixel differences, page weight) are printed and
written to `tests/artifacts/web_page.json`; they are reported, not asserted, as timings vary between machines.
Needs what the JupyterLab test needs: `pip install playwright pytest` and a Chromium (see that test).
"""
import json, os
from pathlib import Path

import numpy as np
import pytest

from mnist_nb.web import try_page, serve, page_weight
from mnist_nb.devtools import run_command, find_chromium, NO_CHROMIUM
from mnist_nb.data import _locked   # appendix A's file lock

ARTIFACTS = Path(__file__).resolve().parent/'artifacts'
PHONE = {'width': 390, 'height': 844}

if os.environ.get('MNIST_NB_SKIP_E2E') == '1':
    pytest.skip('MNIST_NB_SKIP_E2E=1: browser tests skipped on request', allow_module_level=True)

def _run(name, *args, cwd):
    r = run_command(name, *args, cwd=cwd)
    assert r.returncode == 0, f'{name} failed:\n{r.stdout}\n{r.stderr}'
    return r

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The page for the default model (chapter 13's robust CNN), built with the command a reader would run."
    if find_chromium() is None: pytest.fail(NO_CHROMIUM + '（MNIST_NB_SKIP_E2E=1 可以有意跳过浏览器测试）')
    # `pytest -n 2`: the workers' temporary folders share a parent for this run; the first worker builds the page there
    # (the tests only read it) and the other waits for it, instead of exporting the model a second time
    tmp = tmp_path_factory.getbasetemp().parent/'web' if os.environ.get('PYTEST_XDIST_WORKER') else tmp_path_factory.mktemp('web')
    with _locked(tmp):
        if not (tmp/'site'/'index.html').exists(): _run('mnist_nb_export', '--out', 'site', cwd=tmp)
    return tmp/'site'

def test_digits_are_read(site, browser):
    "Mouse and touch writing on the page: right answers, same answers as Python, figures reported."
    ARTIFACTS.mkdir(exist_ok=True)
    run = try_page(site, screenshot=ARTIFACTS/'web_page.png', chromium=find_chromium())
    assert run['error'] is None, run['error']
    assert run['page_errors'] == [], run['page_errors']
    assert [(c['digit'], c['how']) for c in run['cases']] == [(7, 'mouse'), (1, 'mouse'), (0, 'mouse'), (4, 'mouse'), (3, 'mouse'), (2, 'touch')]
    later = [ms for c in run['cases'] for ms in c['answers']]
    report = dict(ready_ms=round(run['ready_ms'], 1), first_answer_ms=round(run['ready_ms'] + run['cases'][0]['answers'][0], 1), answers=len(later), answer_ms_median=round(float(np.median(later)), 1),
                  answer_ms_max=round(max(later), 1), page_bytes=page_weight(site),
                  cases=[{k: (round(v, 6) if isinstance(v, float) else v) for k, v in c.items() if k not in ('page_input', 'answers', 'top')}
                         for c in run['cases']])
    (ARTIFACTS/'web_page.json').write_text(json.dumps(report, ensure_ascii=False, indent=1))
    print(json.dumps(report, ensure_ascii=False))
    for c in run['cases']:
        assert c['answer'] == c['digit'], f"wrote {c['digit']} ({c['how']}), the page read {c['answer']}: {c['top']}"
        assert c['python_answer'] == c['answer'], c
        assert c['diff_canvas'] < 1e-3, c      # the same pixels give the same 28×28 input in JavaScript and Python
        assert c['diff_ink_shift'] < 0.05, c   # the same strokes, drawn by PIL instead of the browser
    assert report['page_bytes']['model.onnx'] <= 200_000

def test_phone_viewport(site, browser):
    "At 390×844 every part of the page fits the width: no horizontal scrolling, nothing cut off."
    context = browser.new_context(viewport=PHONE, locale='zh-CN', has_touch=True, is_mobile=True)
    page = context.new_page()
    try:
        with serve(site) as url:
            page.goto(url)
            page.wait_for_function('() => window.padStats && (padStats.readyMs !== null || padStats.error)', timeout=60_000)
            assert page.evaluate('padStats.error') is None
            page.screenshot(path=str(ARTIFACTS/'web_page_phone.png'), full_page=True)
            width = page.evaluate('document.documentElement.scrollWidth')
            assert width <= PHONE['width'], f'the page is {width} px wide on a {PHONE["width"]} px phone'
            for sel in ['h1', '#pad', '#clear', '#view', '#digit', '#status']:
                box = page.locator(sel).bounding_box()
                assert box and box['x'] >= 0 and box['x'] + box['width'] <= PHONE['width'], f'{sel} is cut off: {box}'
    finally:
        context.close()

@pytest.mark.parametrize('break_it, expect', [
    ('no-wasm', '不能运行 WebAssembly'),
    ('block-wasm', 'WebAssembly 文件'),
    ('no-model', 'model.onnx 加载失败'),
    ('no-runtime', '没有加载到 ONNX Runtime'),
])
def test_clear_message_when_something_is_missing(site, browser, break_it, expect):
    "Without WebAssembly, its runtime file, the model or the runtime script, the page says so in Chinese."
    context = browser.new_context(viewport={'width': 800, 'height': 700}, locale='zh-CN')
    page = context.new_page()
    try:
        if break_it == 'no-wasm': page.add_init_script('delete window.WebAssembly')
        if break_it == 'block-wasm': page.route('**/*.wasm', lambda r: r.abort())
        if break_it == 'no-model': page.route('**/model.onnx', lambda r: r.fulfill(status=404, body='not found'))
        if break_it == 'no-runtime': page.route('**/ort.wasm.min.js', lambda r: r.fulfill(status=404, body='not found'))
        with serve(site) as url:
            page.goto(url)
            page.wait_for_function('() => window.padStats && (padStats.readyMs !== null || padStats.error)', timeout=60_000)
            msg = page.locator('#error')
            assert msg.is_visible(), 'no message shown'
            assert expect in msg.inner_text(), msg.inner_text()
            assert page.evaluate('padStats.readyMs') is None
    finally:
        context.close()
