"""Serve plotly.js and MathJax from installed Python packages, so the built book works offline.

plotly.js comes from the ``plotly`` package (the same version that wrote the figures), MathJax 3
from ``django-static-mathjax``. Both are copied into ``_static/`` of the HTML output; no page
loads anything from a CDN. ``_config.yml`` sets ``mathjax_path`` to the copied file. The extension
also serves ``listings.css`` (code listings wrap within the text column) and drops script tags that the theme's extensions register twice (a JavaScript error otherwise).
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util.fileutil import copy_asset

PLOTLY_JS = "plotly.min.js"
LISTINGS_CSS = Path(__file__).with_name("listings.css")
"""The book's one style rule of its own: code listings wrap within the column."""


def _plotly_js() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data" / PLOTLY_JS


def _mathjax_es5() -> Path:
    import mathjax  # django-static-mathjax

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def _copy(app: Sphinx, exception: Exception | None) -> None:
    if exception or app.builder.format != "html":
        return
    static = Path(app.outdir) / "_static"
    copy_asset(str(_plotly_js()), str(static))
    copy_asset(str(_mathjax_es5()), str(static / "mathjax" / "es5"))
    copy_asset(str(LISTINGS_CSS), str(static))


def _dedupe_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Drop repeated script tags: with Sphinx 7.4, sphinx-thebe and sphinx-togglebutton inline scripts
    are registered twice (once with filename None, once with ''), and the second ``const THEBE_JS_URL``
    declaration is a JavaScript error on every page."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (getattr(script, "filename", None) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique


def setup(app: Sphinx) -> dict:
    for path in (_plotly_js(), _mathjax_es5()):
        if not path.exists():
            raise FileNotFoundError(f"offline asset missing: {path} (is the pinned stack installed?)")
    app.add_js_file(PLOTLY_JS, priority=200)
    app.add_css_file(LISTINGS_CSS.name)
    app.connect("build-finished", _copy)
    app.connect("html-page-context", _dedupe_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
