"""The built documentation site (`nbdev_docs`, which needs Quarto) works where CDNs are blocked.

- No page or stylesheet loads a script, style, font, picture or frame from another host (appendix E's
  `site_problems`).
- The training chapter's page, opened in headless Chromium with every request to another host blocked,
  shows its formulas (MathML made when the site was built) and asks no other host for anything.
- The exercise answers on that page are folded: prose answers, answer code (Quarto's code-fold) and the
  answers the code shows; a click opens one.

The deploy workflow runs this file right after `nbdev_docs` with `MNIST_NB_SITE=_docs`. Elsewhere it runs
when `_docs/` holds a built site and is skipped otherwise (`.ci/run` cannot build the site: Quarto is not
on the package registries CI can reach); with `MNIST_NB_SITE` set, a missing site is a failure.
"""
import os
from pathlib import Path
from urllib.parse import urlparse

import pytest

from mnist_nb.devtools import site_problems
from mnist_nb.web import serve

SITE = Path(os.environ.get('MNIST_NB_SITE') or Path(__file__).resolve().parents[1]/'_docs')
PAGE = 'train.html'   # 第 4 章：公式最多的一页，也有练习的答案

if os.environ.get('MNIST_NB_SKIP_E2E') == '1':
    pytest.skip('MNIST_NB_SKIP_E2E=1: browser tests skipped on request', allow_module_level=True)
if not (SITE/'index.html').exists():
    if os.environ.get('MNIST_NB_SITE'):
        raise FileNotFoundError(f'MNIST_NB_SITE={SITE} 里没有生成好的网站：先运行 nbdev_docs')
    pytest.skip(f'{SITE} 里没有生成好的网站：先运行 nbdev_docs（需要 Quarto），再运行这个测试', allow_module_level=True)


def test_nothing_loads_from_another_host():
    assert site_problems(SITE) == []


@pytest.fixture(scope='module')
def offline_page(browser):
    "The training chapter's page, served on localhost, with every request to another host blocked and recorded."
    blocked = []
    def route(r):
        if urlparse(r.request.url).hostname in ('127.0.0.1', 'localhost'): r.continue_()
        else: blocked.append(r.request.url); r.abort()
    with serve(SITE) as url:
        context = browser.new_context(viewport={'width': 1280, 'height': 900}, locale='zh-CN')
        context.route('**/*', route)
        page = context.new_page()
        page.goto(url + PAGE, wait_until='networkidle', timeout=60_000)
        try: yield page, blocked
        finally: context.close()


def test_formulas_render_with_other_hosts_blocked(offline_page):
    page, blocked = offline_page
    maths = page.evaluate("""() => [...document.querySelectorAll('main math')].map(m => {
        const r = m.getBoundingClientRect(); return [r.width, r.height]; })""")
    assert len(maths) >= 10, f'only {len(maths)} formulas on {PAGE}'
    assert all(w > 0 and h > 0 for w, h in maths), 'some formulas take no space on the page'
    raw = page.evaluate("() => (document.querySelector('main').innerText.match(/\\\\(frac|partial|beta)/g) || []).length")
    assert raw == 0, f'{raw} pieces of raw LaTeX are visible'
    assert blocked == [], f'the page asked other hosts for: {blocked}'


def test_answers_are_folded(offline_page):
    page, _ = offline_page
    st = page.evaluate("""() => {
        const sec = [...document.querySelectorAll('main section')].find(s => (s.querySelector(':scope > h2') || {textContent: ''}).textContent.trim().startsWith('练习'));
        const ds = sec ? [...sec.querySelectorAll('details')] : [];
        return {n: ds.length, open: ds.filter(d => d.open).length,
                code: ds.filter(d => d.classList.contains('code-fold')).length};
    }""")
    assert st['n'] >= 3 and st['open'] == 0, st
    assert st['code'] >= 1, 'no answer code folded on the page'
    last = page.locator('main section:has(> h2:has-text("练习")) details').last
    last.locator(':scope > summary').click()
    assert last.evaluate("d => d.open && [...d.children].some(e => e.tagName !== 'SUMMARY' && e.getBoundingClientRect().height > 0)")
