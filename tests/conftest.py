"""Before any browser test: Playwright and a Chromium must be there. When one is missing, stop at once with one
Chinese line saying what to run, instead of one failure per test. This is a failure (exit status 1), not a
skip; set `MNIST_NB_SKIP_E2E=1` to skip the browser tests on purpose."""
import importlib.util, os

import pytest

# 用时最长的几个浏览器测试先开始（pytest -n 2 按收集的顺序把测试分给两个进程）：长的不会排到最后，两个进程差不多同时结束
SLOWEST_FIRST = ['09_cnn', '93_cli', '07_speed', '13_robust', '12_inside', 'draw_pad', '08_predict', '11_web']

def pytest_collection_modifyitems(config, items):
    rank = lambda item: next((i for i, key in enumerate(SLOWEST_FIRST) if key in item.nodeid), len(SLOWEST_FIRST))
    items.sort(key=rank)   # 稳定排序：其余的测试保持原来的顺序


def pytest_sessionstart(session):
    if os.environ.get('MNIST_NB_SKIP_E2E') == '1': return
    if importlib.util.find_spec('playwright') is None:
        pytest.exit('没有 Playwright：pip install playwright（或者在仓库根目录 pip install -e ".[dev]"）；'
                    'MNIST_NB_SKIP_E2E=1 可以有意跳过浏览器测试。', returncode=1)
    from mnist_nb.devtools import find_chromium, NO_CHROMIUM
    if find_chromium() is None:
        pytest.exit(NO_CHROMIUM + 'MNIST_NB_SKIP_E2E=1 可以有意跳过浏览器测试。', returncode=1)


@pytest.fixture(scope='module')
def browser():
    "Headless Chromium (appendix E's `find_chromium`) driven by Playwright, one per test module; closed at the end."
    from playwright.sync_api import sync_playwright
    from mnist_nb.devtools import find_chromium, NO_CHROMIUM
    from mnist_nb.web import CHROMIUM_ARGS   # headless, no background network traffic
    path = find_chromium()
    if not path: pytest.fail(NO_CHROMIUM + '（MNIST_NB_SKIP_E2E=1 可以有意跳过浏览器测试）')
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        try: yield b
        finally: b.close()
