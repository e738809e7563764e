"""HTML building blocks shared by the report and the comparison.

Jinja2 autoescapes every value; tables come from pandas with ``escape=True``. The
only markup inserted unescaped is our own (tables built here, matplotlib SVGs and
the stylesheet). Pages carry a Content-Security-Policy that forbids scripts and
every network fetch, so even a missed escape could not run or load anything.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

TEMPLATES = Path(__file__).parent / "templates"
_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def render(template: str, **context: Any) -> str:
    css = Markup((TEMPLATES / "base.css").read_text())  # our own file
    return _ENV.get_template(template).render(css=css, **context)


def table(frame: pd.DataFrame, css: str = "data", index: bool = False) -> Markup:
    """A pandas table with every cell escaped."""
    html = frame.to_html(escape=True, index=index, border=0, classes=css, na_rep="–")
    html = html.replace(' class="dataframe ', ' class="')
    return Markup(html)  # built by pandas with escape=True


def svg(text: str) -> Markup:
    return Markup(text)  # matplotlib output; it escapes its text


def safe_href(href: Any) -> str | None:
    """A relative link inside the run folder, or None (no schemes, no absolute paths)."""
    if not isinstance(href, str) or not href or _SCHEME.match(href) or href.startswith(("/", "\\")):
        return None
    if ".." in Path(href).parts:
        return None
    return href


def ms(value: Any) -> str:
    """Latency in ms at µs resolution, trimmed for reading."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    v = float(value)
    if v < 10:
        return f"{v:.3f}"
    if v < 100:
        return f"{v:.2f}"
    return f"{v:,.1f}"


def num(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return f"{float(value):,.{digits}f}"
