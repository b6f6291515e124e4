"""End-to-end test: every chapter notebook runs cleanly in JupyterLab, as a learner runs it.

For each chapter (`nbs/*.ipynb` not starting with `_`, index included) the test opens the notebook
in a real JupyterLab with headless Chromium (Playwright), clears the outputs, runs all cells,
waits until the kernel is idle, saves the notebook and fails on any error output or any code cell
that did not run. The chapters share one browser tab per worker: JupyterLab loads once, each chapter
is opened with the same command as a double click in the file browser, and its kernel is shut down
and its tab closed before the next one (after a failure the tab reloads JupyterLab). Chapter 10 runs in
the drawing-pad test instead, with the same checks, before digits are drawn on its pad. A full-page
screenshot of each chapter goes to `tests/artifacts/` (git-ignored), next to the executed notebooks and
the JupyterLab log.

The notebooks run in a temporary copy of `nbs/`, so the repository's notebooks are never touched.
JupyterLab's config, data, settings and workspaces live in that temporary folder too. Like
`nbdev_test`, the copy leaves out the cells marked `#| slow` (the long experiments a learner runs
when they choose to), so the browser test checks every default test of every chapter; set
`MNIST_NB_E2E_SLOW=1` to keep them.

Needs: `pip install playwright pytest` and a Chromium, found by appendix E's `find_chromium`:
`MNIST_NB_CHROMIUM`, then the system's Chromium or Chrome (Debian: `apt-get install chromium`), then
Playwright's own (`playwright install chromium`). Missing either is a failure, not a skip:
set `MNIST_NB_SKIP_E2E=1` to skip this test on purpose.

Environment variables:
- `MNIST_NB_SKIP_E2E=1`: skip this test.
- `MNIST_NB_CHROMIUM`: path of the Chromium binary (default: see `find_chromium`).
- `MNIST_NB_E2E_LOCALE`: JupyterLab UI language, e.g. `zh_CN` (needs `jupyterlab-language-pack-zh-CN`).
- `MNIST_NB_E2E_TIMEOUT`: seconds allowed per notebook (default 600).
- `MNIST_NB_E2E_SLOW=1`: also run the cells marked `#| slow` (as `nbdev_test --flags slow` does).
- `MNIST_NB_QUICK=1`: the quick check of appendix E (part 2's big experiments scaled down); JupyterLab's kernels
  inherit it, as they inherit every variable here. `.ci/run` sets it for this test and for `nbdev_test`.
- `MNIST_NB_SHARE`: a folder where training calls with the same arguments are shared between processes
  (appendix A's `@shared`); `.ci/run` gives both test passes the same fresh folder.

`pytest -n 2 tests/` (pytest-xdist) runs the chapters two at a time: each worker starts its own
JupyterLab on its own copy of `nbs/`, and its kernels get `OMP_NUM_THREADS` = cores / workers.
"""
import json, os, re, secrets, shutil, signal, socket, subprocess, sys, time
import urllib.error, urllib.request
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
NBS = REPO/'nbs'
ARTIFACTS = Path(__file__).resolve().parent/'artifacts'
CHAPTERS = sorted(p.name for p in NBS.glob('*.ipynb') if not p.name.startswith('_'))

NB_TIMEOUT = float(os.environ.get('MNIST_NB_E2E_TIMEOUT', 600))   # seconds per notebook
RUN_SLOW = os.environ.get('MNIST_NB_E2E_SLOW') == '1'
LOCALE = os.environ.get('MNIST_NB_E2E_LOCALE', '').strip()
VIEWPORT = {'width': 1280, 'height': 900}

if os.environ.get('MNIST_NB_SKIP_E2E') == '1':
    pytest.skip('MNIST_NB_SKIP_E2E=1: JupyterLab end-to-end test skipped on request', allow_module_level=True)


# ---------------------------------------------------------------- JupyterLab server

def _free_port() -> int:
    "A TCP port on 127.0.0.1 that is free right now."
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]

def _write_json(path:Path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding='utf-8')

def _lab_settings() -> dict:
    "JupyterLab user settings for the test, keyed by settings file (plugin id with `/` for `:`)."
    settings = {
        # 渲染全部单元格：默认的窗口化（windowing）只渲染视口附近的单元格，整页截图会缺内容
        # 不在末尾留一屏空白（scrollPastEnd），截图到最后一个单元格为止
        '@jupyterlab/notebook-extension/tracker': {'windowingMode': 'none', 'scrollPastEnd': False},
        # 不联网取新闻、不查更新，也就不会弹出通知挡住截图
        '@jupyterlab/apputils-extension/notification': {'fetchNews': 'false', 'checkForUpdates': False},
    }
    if LOCALE: settings['@jupyterlab/translation-extension/plugin'] = {'locale': LOCALE}
    return settings

class Lab:
    "A running JupyterLab: base URL, token, the folder it serves and its log file."
    def __init__(self, url, token, root, log):
        self.url, self.token, self.root, self.log = url, token, root, log

    def api(self, path, method='GET'):
        "Call the Jupyter REST API; return the decoded JSON (or None for an empty reply)."
        req = urllib.request.Request(f'{self.url}{path}', method=method,
                                     headers={'Authorization': f'token {self.token}'})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def log_tail(self, n=4000) -> str:
        return self.log.read_text(encoding='utf-8', errors='replace')[-n:]

def _wait_until_up(lab:Lab, proc, timeout=120):
    "Wait until the server answers `/api/status`; fail with its log if it exits or never answers."
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f'JupyterLab exited with code {proc.returncode}:\n{lab.log_tail()}')
        try:
            lab.api('/api/status')
            return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.5)
    pytest.fail(f'JupyterLab did not answer within {timeout} s:\n{lab.log_tail()}')

def _stop(proc, lab:Lab):
    "Shut down any kernels still running, then stop the server by its own process id."
    if proc.poll() is None:
        try:
            for k in lab.api('/api/kernels'): lab.api(f"/api/kernels/{k['id']}", method='DELETE')
        except Exception: pass   # 服务器可能已经不响应了；下面照样结束它
        proc.terminate()   # SIGTERM：Jupyter 会先关闭它启动的内核再退出
        try: proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    # 服务器在自己的进程组里（start_new_session），清掉组里可能剩下的子进程
    try: os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError): pass

SLOW_FLAG = re.compile(r'^\s*#\|\s*slow\s*$', re.M)

def _drop_slow_cells(folder:Path) -> int:
    "Remove the code cells marked `#| slow` from every notebook in `folder`, as `nbdev_test` skips them; return how many."
    dropped = 0
    for p in sorted(folder.glob('*.ipynb')):
        nb = json.loads(p.read_text(encoding='utf-8'))
        keep = [c for c in nb['cells'] if not (c['cell_type'] == 'code' and SLOW_FLAG.search(''.join(c['source'])))]
        if len(keep) < len(nb['cells']):
            dropped += len(nb['cells']) - len(keep)
            nb['cells'] = keep
            p.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    return dropped

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    "Start JupyterLab on a copy of `nbs/`, isolated from the user's Jupyter setup; always stop it."
    tmp = tmp_path_factory.mktemp('jupyterlab_e2e')
    root = tmp/'nbs'
    shutil.copytree(NBS, root, ignore=shutil.ignore_patterns('.ipynb_checkpoints', '_proc', '.quarto'))
    if not RUN_SLOW: print(f'left out {_drop_slow_cells(root)} cells marked #| slow (MNIST_NB_E2E_SLOW=1 keeps them)')
    home = tmp/'jupyter'
    for key, value in _lab_settings().items():
        _write_json(home/'user-settings'/f'{key}.jupyterlab-settings', value)
    # 内核就是运行 pytest 的这个 Python：自己写一个 python3 内核描述，放进最先被查找的 JUPYTER_PATH
    _write_json(home/'path'/'kernels'/'python3'/'kernel.json', {
        'argv': [sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
        'display_name': 'Python 3 (ipykernel)', 'language': 'python'})
    env = {**os.environ,
           'JUPYTER_CONFIG_DIR': str(home/'config'), 'JUPYTER_DATA_DIR': str(home/'data'),
           'JUPYTER_RUNTIME_DIR': str(home/'runtime'), 'IPYTHONDIR': str(home/'ipython'),
           'JUPYTER_PATH': os.pathsep.join([str(home/'path')] + [p for p in [os.environ.get('JUPYTER_PATH')] if p]),
           'JUPYTERLAB_SETTINGS_DIR': str(home/'user-settings'),
           'JUPYTERLAB_WORKSPACES_DIR': str(home/'workspaces'),
           # 笔记本导入的是这个仓库里的 mnist_nb
           'PYTHONPATH': os.pathsep.join([str(REPO)] + [p for p in [os.environ.get('PYTHONPATH')] if p])}
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
    if workers > 1 and 'OMP_NUM_THREADS' not in env:   # several kernels at once: share the cores instead of oversubscribing them
        env['OMP_NUM_THREADS'] = str(max(1, (os.cpu_count() or 1) // workers))
    port, token = _free_port(), secrets.token_hex(24)
    ARTIFACTS.mkdir(exist_ok=True)
    worker = os.environ.get('PYTEST_XDIST_WORKER')   # `pytest -n 2`: each worker has its own JupyterLab and log
    log = ARTIFACTS/(f'jupyterlab-{worker}.log' if worker else 'jupyterlab.log')
    cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1', f'--port={port}',
           '--ServerApp.port_retries=0', f'--IdentityProvider.token={token}',
           f'--ServerApp.root_dir={root}', '--LabApp.expose_app_in_browser=True']
    if hasattr(os, 'geteuid') and os.geteuid() == 0: cmd.append('--allow-root')   # CI 容器里常以 root 运行
    with open(log, 'wb') as f:
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=f,
                                stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(f'http://127.0.0.1:{port}', token, root, log)
    try:
        _wait_until_up(lab, proc)
        argv = lab.api('/api/kernelspecs')['kernelspecs']['python3']['spec']['argv']
        assert argv[0] == sys.executable, f'the python3 kernel would run {argv[0]}, not {sys.executable}'
        if LOCALE:
            packs = lab.api('/lab/api/translations/')['data']
            assert LOCALE in packs, f'no JupyterLab language pack for {LOCALE!r}; installed: {sorted(packs)}'
        yield lab
    finally:
        _stop(proc, lab)


# ---------------------------------------------------------------- browser

# The `browser` fixture (headless Chromium found by appendix E's `find_chromium`) is in conftest.py.


# ---------------------------------------------------------------- notebook driving (JavaScript)

# The state of the current notebook as the learner sees it. `window.jupyterapp` is there because
# the server runs with `--LabApp.expose_app_in_browser=True`.
STATE_JS = """(full = true) => {
  const app = window.jupyterapp;
  const dialogs = [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText.trim().slice(0, 800));
  const panel = app && app.shell.currentWidget;
  if (!panel || !panel.sessionContext || !panel.content) return {ready: false, dialogs};
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const code = panel.content.widgets.filter(c => c.model.type === 'code');
  // 运行期间每半秒问一次：只看提示符，不把所有输出（含图片）序列化，免得浏览器和内核抢 CPU
  if (!full) return {run: window.__e2eRun || null, dialogs, kernel: kernel ? kernel.status : null,
                     busy: code.filter(c => c.model.executionState === 'running' ||
                           (c.node.querySelector('.jp-InputArea-prompt') || {}).textContent === '[*]:').length};
  return {
    ready: panel.context.isReady && panel.sessionContext.isReady,
    path: panel.context.path,
    kernel: kernel ? kernel.status : null,
    sessions: [...app.serviceManager.sessions.running()].length,
    run: window.__e2eRun || null,
    dialogs,
    cells: code.length,
    // 折叠了输入的单元（第 12 章的画图函数）页面上没有提示符，就从单元的模型读执行次数
    prompts: code.map(c => { const p = c.node.querySelector('.jp-InputArea-prompt');
                             if (p) return p.textContent.trim();
                             return c.model.executionState === 'running' ? '[*]:' : `[${c.model.executionCount ?? ' '}]:`; }),
    errors: code.flatMap((c, i) => c.model.toJSON().outputs
        .filter(o => o.output_type === 'error').map(o => `code cell ${i + 1}: ${o.ename}: ${o.evalue}`)),
    rendered: panel.content.node.querySelectorAll('.jp-Cell').length,
    images: [...panel.content.node.querySelectorAll('img')].every(img => img.complete),
  };
}"""

# Clear the outputs first, so that an output saved in the repository cannot pass for a fresh one,
# then Run -> Run All Cells (the menu item runs this same command). The command's promise settles
# when every cell has run or was cancelled after an error.
RUN_ALL_JS = """async () => {
  const app = window.jupyterapp;
  await app.commands.execute('notebook:clear-all-cell-outputs');
  window.__e2eRun = 'running';
  app.commands.execute('notebook:run-all-cells').then(
      ok => { window.__e2eRun = ok ? 'ok' : 'failed'; },
      err => { window.__e2eRun = 'error: ' + err; });
}"""

def _wait_for(page, ok, what:str, timeout:float, full:bool=True):
    "Poll the notebook state (`full=False`: only the run flag, kernel status and busy cells) until `ok(state)`."
    deadline = time.monotonic() + timeout
    while True:
        st = page.evaluate(STATE_JS, full)
        if st['dialogs']: pytest.fail(f'JupyterLab shows a dialog while {what}:\n' + '\n---\n'.join(st['dialogs']))
        if ok(st): return st
        if time.monotonic() > deadline:
            st.pop('prompts', None)
            pytest.fail(f'timed out after {timeout:.0f} s {what}; notebook state: {st}')
        page.wait_for_timeout(500)

def _settle(page, extra_ms:int=0):
    "Wait until the browser has painted twice (Lumino lays out on animation frames), then `extra_ms` more."
    page.evaluate('() => new Promise(r => { requestAnimationFrame(() => requestAnimationFrame(r)); setTimeout(r, 500); })')
    if extra_ms: page.wait_for_timeout(extra_ms)

def _screenshot(page, path:Path):
    "Full-page screenshot of the notebook: hide the side bars, grow the window to the notebook's height."
    page.evaluate("() => { const s = window.jupyterapp.shell; s.collapseLeft(); s.collapseRight(); }")
    _settle(page)
    extra = page.evaluate("""() => {
      const notebook = window.jupyterapp.shell.currentWidget.content;
      notebook.activeCellIndex = 0;
      // JupyterLab 4 的笔记本在 .jp-WindowedPanel-outer 里滚动
      const outer = notebook.node.querySelector('.jp-WindowedPanel-outer') || notebook.node;
      outer.scrollTop = 0;
      return outer.scrollHeight - outer.clientHeight;
    }""")
    page.set_viewport_size({'width': VIEWPORT['width'], 'height': VIEWPORT['height'] + max(0, extra) + 40})
    _settle(page, 200)   # 等 Lumino 重新布局、图片重绘
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(VIEWPORT)


# ---------------------------------------------------------------- the test

_ANSI = re.compile(r'\x1b\[[0-9;]*m')

def _check_saved(path:Path) -> list:
    "Problems in a saved notebook: error outputs (with traceback) and code cells not run in order 1, 2, 3, ..."
    nb = json.loads(path.read_text(encoding='utf-8'))
    code = [c for c in nb['cells'] if c['cell_type'] == 'code']
    problems = [f"code cell {i}: {o['ename']}: {o['evalue']}\n" + _ANSI.sub('', '\n'.join(o.get('traceback', [])))
                for i, c in enumerate(code, 1) for o in c.get('outputs', []) if o['output_type'] == 'error']
    counts = [c.get('execution_count') for c in code]
    if counts != list(range(1, len(code) + 1)):   # 新内核按顺序运行全部单元格，编号应当正好是 1..N
        problems.append(f'execution counts are {counts}, expected 1..{len(code)}')
    return problems

def _open(page, lab:Lab, name:str):
    "Open notebook `name` in JupyterLab (loading JupyterLab first if this tab has not) and wait for its idle kernel."
    if not page.evaluate('() => !!(window.jupyterapp && window.jupyterapp.shell)'):
        # ?reset：从空白工作区开始，不会把以前的笔记本（和它们的内核）一起恢复出来
        page.goto(f'{lab.url}/lab?reset&token={lab.token}', wait_until='load', timeout=120_000)
        page.wait_for_function('() => window.jupyterapp && window.jupyterapp.shell', timeout=120_000)
        page.evaluate('async () => { await window.jupyterapp.restored; }')
    # 和在文件浏览器里双击一样打开笔记本；同一个标签页接着用，不必每章重新加载 JupyterLab
    page.evaluate("async (path) => { await window.jupyterapp.commands.execute('docmanager:open', {path}); }", name)
    page.wait_for_function('() => window.jupyterapp.shell.currentWidget', timeout=120_000)
    st = _wait_for(page, lambda s: s['ready'] and s['path'] == name and s['kernel'] == 'idle',
                   'opening the notebook and starting its kernel', 120)
    assert st['sessions'] == 1, f'{st["sessions"]} kernel sessions are open, expected only {name}'
    assert st['rendered'] > 0
    return st

def _run_all(page, name:str) -> dict:
    "Clear the outputs, Run All Cells, wait until every cell has run; return the notebook state."
    started = time.monotonic()
    page.evaluate(RUN_ALL_JS)
    _wait_for(page, lambda s: s['run'] != 'running' and s['kernel'] == 'idle' and not s['busy'],
              'running all cells', NB_TIMEOUT, full=False)
    st = _wait_for(page, lambda s: not any(p.startswith('[*]') for p in s['prompts']), 'reading the finished notebook', 60)
    print(f'{name}: ran {st["cells"]} code cells in {time.monotonic() - started:.1f} s ({st["run"]})')
    return st

def _close(page):
    "Shut down the notebook's kernel and close its tab, so the next test starts clean."
    try:
        page.evaluate("""async () => {
          const app = window.jupyterapp;
          const panel = app.shell.currentWidget;
          if (panel && panel.sessionContext) await panel.sessionContext.shutdown();
          await app.commands.execute('application:close-all');
          await app.serviceManager.sessions.refreshRunning();
        }""")
    except Exception: pass

def _new_page(browser, has_touch:bool=False):
    "A browser tab like a learner's (zh-CN, 1280×900); return `(context, page, JavaScript errors seen)`."
    # 浏览器语言设为 zh-CN：和读者一样，汉字优先用简体中文字形
    context = browser.new_context(viewport=VIEWPORT, locale='zh-CN', device_scale_factor=1, has_touch=has_touch)
    page = context.new_page()
    errors = []
    page.on('pageerror', lambda e: errors.append(str(e)))
    return context, page, errors


# Folded answers as the learner sees them: every <details> block (prose answers in Markdown cells and the
# answers that `answer()` shows as a cell output), and the placeholders of collapsed code cells.
ANSWERS_JS = """() => {
  const node = window.jupyterapp.shell.currentWidget.content.node;
  const ds = [...node.querySelectorAll('details')];
  const shown = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  return {details: ds.length, open: ds.filter(d => d.open).length,
          summaries: ds.filter(d => { const s = d.querySelector(':scope > summary'); return s && shown(s); }).length,
          placeholders: [...node.querySelectorAll('.jp-InputPlaceholder')].filter(shown).length};
}"""

def _expected_answers(path:Path) -> tuple:
    "In a saved notebook: how many <details> blocks should render, and how many code cells have hidden source."
    nb = json.loads(path.read_text(encoding='utf-8'))
    blocks = lambda text: len(re.findall(r'^<details>', text, re.M))   # 行首的 <details>，不算正文里提到的
    md = sum(blocks(''.join(c['source'])) for c in nb['cells'] if c['cell_type'] == 'markdown')
    out = sum(blocks(''.join(o.get('data', {}).get('text/markdown', '')))
              for c in nb['cells'] if c['cell_type'] == 'code' for o in c.get('outputs', []))
    hidden = sum(1 for c in nb['cells'] if c['cell_type'] == 'code' and c.get('metadata', {}).get('jupyter', {}).get('source_hidden'))
    return md + out, hidden

def _check_answers(page, saved:Path) -> list:
    "Problems with the folded answers: a <details> that did not render, opens by itself, or does not open on a click."
    n_details, n_hidden = _expected_answers(saved)
    st = page.evaluate(ANSWERS_JS)
    problems = []
    if st['details'] != n_details: problems.append(f"{st['details']} folded answers on screen, the notebook has {n_details}")
    if st['open']: problems.append(f"{st['open']} answers are open before anyone clicked")
    if st['summaries'] != st['details']: problems.append(f"{st['details'] - st['summaries']} answers have no visible title to click")
    if st['placeholders'] < n_hidden: problems.append(f"{st['placeholders']} collapsed code cells on screen, the notebook has {n_hidden}")
    if st['details'] and not problems:   # 点开最后一个答案：里面的内容要显示出来
        last = page.locator('.jp-Notebook details').last
        last.locator(':scope > summary').click()
        shown = last.evaluate("d => d.open && [...d.children].some(e => e.tagName !== 'SUMMARY' && e.getBoundingClientRect().height > 0)")
        if not shown: problems.append('clicking the last answer\'s title did not show its content')
        page.evaluate("() => document.querySelectorAll('.jp-Notebook details').forEach(d => d.open = true)")
        page.wait_for_timeout(500)
        empty, broken = page.evaluate("""() => {
          const ds = [...document.querySelectorAll('.jp-Notebook details')];
          const empty = ds.filter(d => ![...d.children].some(e => e.tagName !== 'SUMMARY' && e.getBoundingClientRect().height > 0));
          const imgs = ds.flatMap(d => [...d.querySelectorAll('img')]).filter(i => !i.complete || i.naturalWidth === 0);
          return [empty.length, imgs.length];
        }""")
        if empty: problems.append(f'{empty} answers show nothing when opened')
        if broken: problems.append(f'{broken} pictures inside answers did not load')
    return problems

@pytest.fixture(scope='module')
def tab(browser):
    "One browser tab for the chapter tests of this worker: JupyterLab loads once, each chapter opens in it."
    context, page, page_errors = _new_page(browser)
    try: yield page, page_errors
    finally: context.close()

def _check_chapter(page, lab:Lab, name:str, st:dict, page_errors:list):
    "After Run All: save, screenshot, and fail with every problem found (errors, cells not run, answers not folded)."
    # 保存到临时副本，再读回 JSON 检查：这就是 Jupyter 写到磁盘上的结果
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function('() => !window.jupyterapp.shell.currentWidget.context.model.dirty', timeout=60_000)
    saved = lab.root/name
    shutil.copy(saved, ARTIFACTS/name)
    _wait_for(page, lambda s: s['images'], 'loading the output images', 60)
    _screenshot(page, ARTIFACTS/f'{Path(name).stem}.png')

    # 学习者看到的：每个代码单元格的提示符都是 [编号]:，没有 [ ]: 或 [*]:
    not_run = [f'code cell {i}: {p}' for i, p in enumerate(st['prompts'], 1) if not re.fullmatch(r'\[\d+\]:', p)]
    problems = ([f'on screen: {p}' for p in st['errors'] + not_run]
                + [f'in the saved notebook: {p}' for p in _check_saved(saved)]
                + [f'answers: {p}' for p in _check_answers(page, saved)])
    if st['run'] != 'ok' or problems:
        pytest.fail(f'{name} did not run cleanly in JupyterLab (Run All: {st["run"]}):\n' + '\n'.join(problems)
                    + (f'\nJavaScript errors in the page: {page_errors}' if page_errors else ''))

DRAW_CHAPTER = '10_draw.ipynb'   # test_draw_pad_reads_mouse_drawn_digits runs it (and draws on its pad)

@pytest.mark.parametrize('name', [c for c in CHAPTERS if c != DRAW_CHAPTER])
def test_chapter_runs_in_jupyterlab(name, tab, lab):
    "Open the chapter in JupyterLab, run all cells, save; no errors, every code cell executed, the answers folded."
    page, page_errors = tab
    page_errors.clear()
    passed = False
    try:
        _open(page, lab, name)
        if LOCALE.startswith('zh'):
            menus = page.locator('#jp-menu-panel .lm-MenuBar-itemLabel').all_inner_texts()
            assert '文件' in menus, f'the UI is not in Chinese; menu bar: {menus}'
        _check_chapter(page, lab, name, _run_all(page, name), page_errors)
        passed = True
    finally:
        _close(page)   # 关掉这一章的内核和标签页，下一章从干净的状态开始
        if not passed: page.goto('about:blank')   # 出了问题：下一章重新加载 JupyterLab，不受这一章的影响


# ---------------------------------------------------------------- live curves and the drawing pad

# Record every <img> that appears in the notebook's output areas while cells run: how many output
# images there are at most at one moment, and every distinct picture (src) shown.
WATCH_IMAGES_JS = """() => {
  const node = window.jupyterapp.shell.currentWidget.content.node;
  const seen = window.__e2eImages = {max: 0, srcs: []};
  const look = () => {
    const imgs = [...node.querySelectorAll('.jp-OutputArea-output img')];
    seen.max = Math.max(seen.max, imgs.length);
    for (const img of imgs) if (!seen.srcs.includes(img.src)) seen.srcs.push(img.src);
  };
  new MutationObserver(look).observe(node, {childList: true, subtree: true, attributes: true, attributeFilter: ['src']});
}"""

def test_live_curves_update_in_place(browser, lab):
    "In a real JupyterLab, `train_fast(live=True)` shows one figure that is redrawn once per epoch."
    name = 'live_curves_e2e.ipynb'
    cells = ['from mnist_nb.speed import train_fast',
             '_, history = train_fast(epochs=3, live=True, verbose=False)\nlen(history)']
    _write_json(lab.root/name, {'nbformat': 4, 'nbformat_minor': 5, 'metadata': {
        'kernelspec': {'name': 'python3', 'display_name': 'Python 3 (ipykernel)', 'language': 'python'}},
        'cells': [{'cell_type': 'code', 'id': f'c{i}', 'metadata': {}, 'source': c, 'outputs': [],
                   'execution_count': None} for i, c in enumerate(cells)]})
    context, page, page_errors = _new_page(browser)
    try:
        _open(page, lab, name)
        page.evaluate(WATCH_IMAGES_JS)
        st = _run_all(page, name)
        assert st['run'] == 'ok' and not st['errors'], st['errors']
        seen = page.evaluate('() => window.__e2eImages')
        page.screenshot(path=str(ARTIFACTS/'live_curves.png'))
        # 3 轮：第一次显示，之后原地替换 2 次；任何时刻输出里都只有这一张图
        assert seen['max'] == 1, f'{seen["max"]} output images at once; the curves should be one figure updated in place'
        assert len(seen['srcs']) == 3, f'{len(seen["srcs"])} distinct pictures shown, expected 3 (one per epoch)'
    finally:
        _close(page)
        context.close()

READ_RE = r'(?:识别为|没把握：像)\s*(\d)'   # 手写板的结果栏：有把握时“识别为 7”，拿不准时“没把握：像 7……”
PAD_RESULT_JS = """() => [...document.querySelectorAll('.mnist-nb-pad-result')].map(e => e.innerText.trim())"""

def _on_page(box:dict, size:int, strokes) -> list:
    "`strokes` (unit square) as page coordinates on a `size`×`size` canvas shown in `box`."
    from mnist_nb.predict import stroke_points
    sx, sy = box['width'] / size, box['height'] / size
    return [[(box['x'] + x * sx, box['y'] + y * sy) for x, y in s] for s in stroke_points(strokes, size)]

def _drag(page, box:dict, size:int, strokes):
    "Draw `strokes` (unit square) on the canvas in `box` with the mouse, like a learner: press, move, release."
    for pts in _on_page(box, size, strokes):
        page.mouse.move(*pts[0])
        page.mouse.down()
        for p in pts[1:]: page.mouse.move(*p, steps=4)
        page.mouse.up()

KERNEL_JS = "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"

def _swipe(cdp, box:dict, size:int, strokes):
    "Draw `strokes` with a finger: raw touch events through the Chrome DevTools Protocol, as a tablet sends them."
    touch = lambda kind, pt: cdp.send('Input.dispatchTouchEvent', {
        'type': kind, 'touchPoints': [] if pt is None else [{'x': pt[0], 'y': pt[1]}]})
    for pts in _on_page(box, size, strokes):
        touch('touchStart', pts[0])
        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
            for t in (0.25, 0.5, 0.75, 1.0): touch('touchMove', (x0 + t * (x1 - x0), y0 + t * (y1 - y0)))
        touch('touchEnd', None)

def _pad_result(page, ok, what:str, timeout:float=30) -> str:
    "Wait until the kernel has handled every mouse event and the pad's result line, unchanged for 0.6 s, satisfies `ok`."
    deadline = time.monotonic() + timeout
    before = None
    while True:
        texts, kernel = page.evaluate(PAD_RESULT_JS), page.evaluate(KERNEL_JS)
        now = (texts, kernel)
        if len(texts) == 1 and kernel == 'idle' and now == before and ok(texts[0]): return texts[0]
        if time.monotonic() > deadline: pytest.fail(f'timed out {what}; kernel {kernel}, result lines on the page: {texts}')
        before = now
        page.wait_for_timeout(600)

def test_draw_pad_reads_mouse_drawn_digits(browser, lab):
    "Run chapter 10 in JupyterLab and check it like every chapter; then draw digits on its pad with the mouse (and one with a finger)."
    from mnist_nb.predict import DIGIT_STROKES
    name = DRAW_CHAPTER
    context, page, page_errors = _new_page(browser, has_touch=True)
    try:
        _open(page, lab, name)
        _check_chapter(page, lab, name, _run_all(page, name), page_errors)
        canvas = page.locator('canvas.mnist-nb-pad-canvas')
        canvas.wait_for(state='visible', timeout=60_000)
        assert canvas.count() == 1, f'{canvas.count()} drawing pads on the page, expected 1'
        canvas.scroll_into_view_if_needed()
        size = int(canvas.get_attribute('width'))
        _pad_result(page, lambda t: '写一个数字' in t, 'waiting for the empty pad')
        read = {}
        for digit in (7, 1, 0, 4, 3):
            _drag(page, canvas.bounding_box(), size, DIGIT_STROKES[digit])
            text = _pad_result(page, lambda t: re.search(READ_RE, t), f'waiting for the pad to read a {digit}')
            read[digit] = int(re.search(READ_RE, text).group(1))
            page.screenshot(path=str(ARTIFACTS/f'draw_pad_{digit}.png'))
            page.locator('.mnist-nb-pad-clear').click()
            _pad_result(page, lambda t: '写一个数字' in t, f'waiting for "清除" after the {digit}')
        # 平板上用手指写：触摸事件走的是另一条路（touchstart/touchmove/touchend）
        cdp = context.new_cdp_session(page)
        _swipe(cdp, canvas.bounding_box(), size, DIGIT_STROKES[2])
        text = _pad_result(page, lambda t: re.search(READ_RE, t), 'waiting for the pad to read a finger-drawn 2')
        page.screenshot(path=str(ARTIFACTS/'draw_pad_touch_2.png'))
        touch_read = int(re.search(READ_RE, text).group(1))
        print(f'drawing pad read: {read} with the mouse, {touch_read} for a 2 drawn with a finger')
        assert read == {d: d for d in read}, f'the pad misread mouse-drawn digits (drawn → read): {read}'
        assert touch_read == 2, f'the pad read a finger-drawn 2 as {touch_read}'
        assert not page_errors, f'JavaScript errors in the page: {page_errors}'
    finally:
        _close(page)
        context.close()
