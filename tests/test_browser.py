"""Open every page of the built book in headless Chromium, offline, and check what a reader sees.

Needs the built book (``make book``; or point the env var BOOK_HTML at another build folder) and
Debian's Chromium (``make browser-deps``). For every page: no request leaves file:/data: URLs, no
JavaScript error, every plotly figure has drawn, every figure slider changes the plotted data when
the reader clicks another step of its rail, and MathJax has typeset the page's math.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
BOOK = Path(os.environ.get("BOOK_HTML", ROOT / "_build" / "html"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_SCHEMES = ("file:", "data:")
TIMEOUT_MS = 30_000


def book_pages() -> list[str]:
    """The book's HTML pages relative to BOOK (Sphinx's own folders, ``_static`` etc., excluded)."""
    if not BOOK.is_dir():
        return ["<missing build>"]
    return sorted(
        p.relative_to(BOOK).as_posix()
        for p in BOOK.rglob("*.html")
        if not any(part.startswith("_") for part in p.relative_to(BOOK).parts)
    )


# The state of every plotly figure on the page: traces, drawn SVG, sliders, and a signature of the
# data of the visible traces (what the reader sees plotted; box plots are drawn from their quartiles).
FIGURES_JS = """
() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(gd => ({
    traces: (gd.data || []).length,
    drawn: !!gd.querySelector('.main-svg') && !!gd._fullLayout,
    sliders: ((gd.layout || {}).sliders || []).length,
    active: ((gd.layout || {}).sliders || []).map(s => s.active),
    visible: JSON.stringify((gd._fullData || []).filter(t => t.visible === true)
        .map(t => [t.x, t.y, t.z, t.q1, t.median, t.q3].map(a => a ? Array.from(a) : null))),
}))
"""

PAGE_READY_JS = """
async () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
    const figures = Array.from(document.querySelectorAll('.plotly-graph-div'));
    return figures.every(gd => gd._fullLayout && gd.querySelector('.main-svg'));
}
"""


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Chromium is not installed: run `make browser-deps` (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser, page_path: str):
    """Load a page over file:// and return (page, page errors, non-local requests)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    remote: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def route(r):
        if r.request.url.startswith(LOCAL_SCHEMES):
            r.continue_()
        else:
            remote.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto((BOOK / page_path).as_uri(), wait_until="load", timeout=TIMEOUT_MS)
    try:
        page.wait_for_function(PAGE_READY_JS, timeout=TIMEOUT_MS)
    except PlaywrightTimeout:
        pass  # the assertions below say which figure did not draw
    return page, errors, remote


def click_other_step(page, index: int, active: int) -> None:
    """Click the rail of figure ``index``'s first slider at its far end away from the active step."""
    gd = page.locator(".plotly-graph-div").nth(index)
    gd.scroll_into_view_if_needed()
    rail = gd.locator(".slider-container .slider-rail-touch-rect").first
    box = rail.bounding_box()
    assert box is not None, f"figure {index}: slider rail not drawn"
    x = box["x"] + (4 if active > 0 else box["width"] - 4)
    page.mouse.click(x, box["y"] + box["height"] / 2)


@pytest.mark.parametrize("page_path", book_pages())
def test_page_in_browser(browser, page_path: str) -> None:
    if not BOOK.is_dir():
        pytest.fail(f"no built book at {BOOK}: run `make book` first (or set BOOK_HTML)")
    page, errors, remote = open_page(browser, page_path)
    try:
        figures = page.evaluate(FIGURES_JS)
        for i, fig in enumerate(figures):
            assert fig["drawn"] and fig["traces"] > 0, f"{page_path}: figure {i} has not drawn"
        for i, fig in enumerate(figures):
            if not fig["sliders"]:
                continue
            click_other_step(page, i, fig["active"][0] or 0)
            page.wait_for_timeout(300)
            after = page.evaluate(FIGURES_JS)[i]
            where = f"{page_path}: figure {i}"
            assert after["active"][0] != fig["active"][0], (
                f"{where}: the click did not move the slider"
            )
            assert after["visible"] != fig["visible"], (
                f"{where}: moving the slider left the plotted data unchanged"
            )
        has_math = page.locator(".math").count() > 0
        if has_math:
            assert page.locator("mjx-container").count() > 0, (
                f"{page_path}: math present but not typeset by MathJax"
            )
            assert page.locator("mjx-merror").count() == 0, (
                f"{page_path}: MathJax reported a TeX error"
            )
        assert errors == [], f"{page_path}: JavaScript errors: {errors}"
        assert remote == [], f"{page_path}: requests left the machine: {remote}"
    finally:
        page.close()


def test_book_has_figures_sliders_and_math(browser) -> None:
    """The checks above are not vacuous: the analytic chapters hold figures, sliders and math."""
    if not BOOK.is_dir():
        pytest.fail(f"no built book at {BOOK}: run `make book` first (or set BOOK_HTML)")
    page, _, _ = open_page(browser, "book/hardness.html")
    try:
        figures = page.evaluate(FIGURES_JS)
        assert len(figures) >= 3
        assert any(fig["sliders"] for fig in figures)
        assert page.locator("mjx-container").count() > 0
    finally:
        page.close()


LAYOUT_JS = """
() => ({
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    legends: Array.from(document.querySelectorAll('.plotly-graph-div')).map(
        gd => gd.querySelectorAll('g.legend g.traces').length),
    cut: Array.from(document.querySelectorAll('.plotly-graph-div')).flatMap(gd => {
        const box = gd.getBoundingClientRect();
        return Array.from(gd.querySelectorAll('text.gtitle, g.annotation-text-g text, .g-xtitle text, .g-ytitle text'))
            .filter(t => { const r = t.getBoundingClientRect();
                           return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1); })
            .map(t => t.textContent.slice(0, 60));
    }),
})
"""


@pytest.mark.parametrize("width", [800, 1400])
@pytest.mark.parametrize("page_path", book_pages())
def test_page_is_legible_at_width(browser, page_path: str, width: int) -> None:
    """At a narrow and a wide window: the page body never scrolls sideways (a table may scroll in its
    own box), no figure's legend holds more than 12 entries, and no title runs past its figure's edge."""
    if not BOOK.is_dir():
        pytest.fail(f"no built book at {BOOK}: run `make book` first (or set BOOK_HTML)")
    page = browser.new_page(viewport={"width": width, "height": 1000})
    page.route(
        "**/*", lambda r: r.continue_() if r.request.url.startswith(LOCAL_SCHEMES) else r.abort()
    )
    try:
        page.goto((BOOK / page_path).as_uri(), wait_until="load", timeout=TIMEOUT_MS)
        try:
            page.wait_for_function(PAGE_READY_JS, timeout=TIMEOUT_MS)
        except PlaywrightTimeout:
            pass
        layout = page.evaluate(LAYOUT_JS)
        assert layout["overflow"] <= 1, (
            f"{page_path} at {width} px: the page scrolls sideways by {layout['overflow']} px"
        )
        crowded = [(i, n) for i, n in enumerate(layout["legends"]) if n > 12]
        assert not crowded, (
            f"{page_path} at {width} px: legends over 12 entries (figure, entries): {crowded}"
        )
        assert not layout["cut"], (
            f"{page_path} at {width} px: titles cut at the figure's edge: {layout['cut']}"
        )
    finally:
        page.close()


@pytest.mark.parametrize("page_path", book_pages())
def test_page_text_is_a_readers(page_path: str) -> None:
    """No machine plumbing on a page, and "not yet run" at most once (the page's one note)."""
    if not BOOK.is_dir():
        pytest.fail(f"no built book at {BOOK}: run `make book` first (or set BOOK_HTML)")
    import re

    text = (BOOK / page_path).read_text(encoding="utf-8")
    visible = re.sub(r"<script.*?</script>", "", text, flags=re.S)
    for word in ("../shared", ".carry", "lent GPU"):
        assert word not in visible, f"{page_path}: {word!r} on the page"
    assert visible.count("not yet run") <= 1, (
        f"{page_path}: 'not yet run' {visible.count('not yet run')} times"
    )
