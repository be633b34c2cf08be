"""Widgets whose values live in the URL, lecture mode, and error display.

Every page setting goes through :func:`url_widget` (or the shorthands below), so
that a lecturer can send a link that opens a page exactly as configured; the link
carries only the settings that differ from their defaults. The
value is read, in order, from the URL query parameter, from the value kept in
``st.session_state`` when the user last saw the page, and from the default. A
URL value that does not parse or is out of range is ignored with a warning.
"""
from __future__ import annotations

import contextlib
import math
import re
from typing import Any, Callable, Iterable, Iterator, Sequence

import plotly.graph_objects as go
import streamlit as st

from cnnviz.errors import ConfigError

_KEEP = "_keep_"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>!~|$#@&])")
_COLON_WORD = re.compile(r":(?=\S)")  # http://, :red[...], :material/x:, :smile: (a colon before a space is prose)
_WWW = re.compile(r"(?i)\b(www)\.")
_JOINER = "\u2060"  # WORD JOINER: zero width, invisible, not part of any address
_LINE_START = re.compile(r"^(\s*\d*)([-+=.)])")


def plain(text: object, limit: int | None = None) -> str:
    """``text`` escaped so that Streamlit's Markdown shows it exactly as written.

    Backslashes go before every character that can start Markdown (links, images, HTML, code,
    emphasis, formulas, tables), before a colon that touches the next word (web addresses,
    Streamlit's ``:colour[...]`` and ``:icon:``), after ``www`` and before a list or heading
    mark at the start; line breaks become spaces. Prose punctuation (``. , ( ) ' - /``) stays
    as it is, so a message still reads normally.
    """
    s = " ".join(str(text).splitlines())
    if limit is not None and len(s) > limit:
        s = s[:limit] + "..."
    s = _MARKDOWN_SPECIAL.sub(r"\\\1", s)
    # Streamlit's Markdown links bare addresses after the escapes are read ("http\\://x" is still a link), so an
    # invisible word joiner breaks each pattern it looks for: "scheme:" + "//", "www.", and "@" in an e-mail
    s = _COLON_WORD.sub(r"\\:", s).replace("\\://", "\\:" + _JOINER + "//")
    s = _WWW.sub(r"\1" + _JOINER + r"\\.", s)
    s = s.replace("\\@", "\\@" + _JOINER)
    return _LINE_START.sub(r"\1\\\2", s)


def ignored(key: str, raw: str, reason: object) -> None:
    """Warn that the link's value ``raw`` for ``key`` was not used, showing it as text."""
    st.warning(f"Ignored the link's setting {key}={plain(repr(raw[:40]))}: {plain(reason, 200)}")


def _encode(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def url_sets(defaults: dict[str, Any]) -> bool:
    """Whether the page's link gives any of these keys a value other than its default: a collapsed section that
    holds them opens, so what the link set (or the warning that a value was ignored) is in sight."""
    return any((raw := st.query_params.get(key)) is not None and raw != _encode(default)
               for key, default in defaults.items())


def url_widget(
    key: str,
    default: Any,
    parse: Callable[[str], Any],
    widget: Callable[..., Any],
    **kwargs: Any,
) -> Any:
    """Render ``widget(key=key, **kwargs)`` bound to query parameter ``key``.

    ``parse`` turns the URL string into a valid value or raises ``ValueError``.
    """
    if key not in st.session_state:
        value = st.session_state.get(_KEEP + key, default)
        raw = st.query_params.get(key)
        if raw is not None:
            try:
                value = parse(raw)
            except (ValueError, TypeError, OverflowError) as exc:
                ignored(key, raw, exc)
        st.session_state[key] = value
    elif st.session_state[key] is None and kwargs.get("required") and default is not None:
        # a choice that cannot be cleared came back empty (its state lost between two quick reruns, seen once in
        # a soak, where the page then showed another part): the last choice again
        st.session_state[key] = st.session_state.get(_KEEP + key, default)
    value = widget(key=key, **kwargs)
    st.session_state[_KEEP + key] = value
    short_link(key, value, default)
    return value


def forget(keys: Iterable[str]) -> None:
    """Drop what this session holds for these URL-bound settings, so the next run reads them from the link
    (a lecture sequence opening the same page with other settings)."""
    for key in keys:
        st.session_state.pop(key, None)
        st.session_state.pop(_KEEP + key, None)


def short_link(key: str, value: Any, default: Any) -> None:
    """Keep ``key`` in the page's link only while ``value`` differs from ``default``: a shared link is short and
    names only what the lecturer changed."""
    text = _encode(value)
    if text == _encode(default):
        if key in st.query_params:
            del st.query_params[key]
    elif st.query_params.get(key) != text:
        st.query_params[key] = text


def number_parser(kind: type, lo: float | None, hi: float | None) -> Callable[[str], Any]:
    """A parser for :func:`url_widget`: a finite number of ``kind`` within ``lo..hi``."""

    def parse(raw: str) -> Any:
        text = raw.strip()
        if not text or len(text) > 30:
            raise ValueError("not a number")
        number = float(text)  # ValueError for words; "1e309" and "inf" give inf
        if not math.isfinite(number) or abs(number) > 1e15:
            raise ValueError("not a finite number of sensible size")
        if kind is int:
            if not number.is_integer():
                raise ValueError("not a whole number")
            value: Any = int(number)
        else:
            value = number
        if lo is not None and value < lo:
            raise ValueError(f"below the minimum {lo}")
        if hi is not None and value > hi:
            raise ValueError(f"above the maximum {hi}")
        return value

    return parse


def url_number(label: str, key: str, default: int | float, min_value: int | float | None = None,
               max_value: int | float | None = None, step: int | float | None = None, widget: str = "number",
               **kwargs: Any) -> Any:
    """A number input (or ``widget="slider"``) bound to the URL."""
    kind = float if isinstance(default, float) else int
    parse = number_parser(kind, min_value, max_value)
    fn = st.slider if widget == "slider" else st.number_input
    extra = {"step": step} if step is not None else {}
    return url_widget(key, default, parse, fn, label=label, min_value=min_value, max_value=max_value,
                      **extra, **kwargs)


def choice_parser(options: Sequence[Any]) -> Callable[[str], Any]:
    """A parser for :func:`url_widget`: one of ``options``, written as the URL writes it."""
    by_text = {_encode(o): o for o in options}

    def parse(raw: str) -> Any:
        if raw not in by_text:
            raise ValueError("not one of the choices")
        return by_text[raw]

    return parse


def url_select(label: str, key: str, options: Sequence[Any], default: Any, widget: str = "select",
               **kwargs: Any) -> Any:
    """A selectbox (or ``widget="radio"`` / ``"segmented"``) bound to the URL."""
    parse = choice_parser(options)
    fn = {"radio": st.radio, "segmented": st.segmented_control, "select_slider": st.select_slider}.get(
        widget, st.selectbox)
    return url_widget(key, default, parse, fn, label=label, options=list(options), **kwargs)


def url_multiselect(label: str, key: str, options: Sequence[str], default: Sequence[str], **kwargs: Any) -> list:
    """A multiselect bound to the URL (comma separated)."""

    def parse(raw: str) -> list:
        items = [s for s in raw.split(",") if s]
        bad = [s for s in items if s not in options]
        if bad:
            raise ValueError(f"unknown choice {bad[0][:30]!r}")
        return items

    return url_widget(key, list(default), parse, st.multiselect, label=label, options=list(options), **kwargs)


def parse_toggle(raw: str) -> bool:
    """A switch's URL value: 1/0 (or true/false, yes/no, on/off)."""
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError("not 1 or 0")


def url_toggle(label: str, key: str, default: bool = False, **kwargs: Any) -> bool:
    """A toggle bound to the URL (1/0)."""

    return url_widget(key, default, parse_toggle, st.toggle, label=label, **kwargs)


def url_text(label: str, key: str, default: str, max_chars: int = 200, **kwargs: Any) -> str:
    """A text input bound to the URL."""

    def parse(raw: str) -> str:
        if len(raw) > max_chars:
            raise ValueError(f"longer than {max_chars} characters")
        return raw

    return url_widget(key, default, parse, st.text_input, label=label, max_chars=max_chars, **kwargs)


MAX_TEXT_AREA = 20_000
"""Longest text a link may carry in a text area (a 100-layer network is about 2,000 characters)."""


def url_text_area(label: str, key: str, default: str, max_chars: int = MAX_TEXT_AREA, **kwargs: Any) -> str:
    """A text area bound to the URL (a network written in the builder's grammar travels this way)."""

    def parse(raw: str) -> str:
        if len(raw) > max_chars:
            raise ValueError(f"longer than {max_chars:,} characters")
        return raw

    return url_widget(key, default, parse, st.text_area, label=label, max_chars=max_chars, **kwargs)


def url_tabs(labels: Sequence[str], key: str) -> Sequence[Any]:
    """``st.tabs`` bound to query parameter ``key``; a link's tab that does not exist is ignored with a warning."""
    raw = st.query_params.get(key)
    if raw is not None and raw not in labels:
        ignored(key, raw, "no such tab")
        del st.query_params[key]
    return st.tabs(list(labels), key=key, bind="query-params")


# Streamlit sizes its text, tables (the data grid reads the root size when it mounts), tabs, selects, radios,
# metrics and formulas in rem, so one root size scales them all alike; the top padding shrinks so that the key
# content of a page fits a 1280x720 projector, and headings grow less than body text for the same reason.
LECTURE_SCALE = 1.35
_LECTURE_CSS = f"""
<style>
html {{ font-size: {16 * LECTURE_SCALE:.1f}px !important; }}
h1 {{ font-size: 2.1rem !important; padding-top: 0 !important; }} h2 {{ font-size: 1.6rem !important; }}
h3 {{ font-size: 1.35rem !important; }}
[data-testid="stMainBlockContainer"] {{ padding-top: 3.2rem !important; padding-bottom: 2rem !important; }}
[data-testid="stMetricValue"] {{ font-size: 2rem !important; }}
</style>
"""


def lecture_requested() -> bool:
    """Whether this run shows lecture mode: the toggle's value, or the link's ``lecture=1`` before the toggle has
    run (``app.py`` needs it before any widget, to collapse the sidebar)."""
    if "lecture" in st.session_state:
        return bool(st.session_state["lecture"])
    return st.query_params.get("lecture") == "1"


def lecture_mode() -> bool:
    """The sidebar toggle for projectors: everything a page shows scaled up, fewer advanced controls."""
    on = url_toggle("Lecture mode", "lecture", False, help="Everything bigger for a projector (the sidebar folds "
                    "away: its arrow at the top left opens it); hides advanced controls.")
    if on:
        st.html(_LECTURE_CSS)
    return on


TABLE_ROW_PX = 35  # Streamlit's default row height, set explicitly so that the height below is exact
TABLE_MAX_ROWS = 25  # a longer table scrolls inside its frame rather than push the page down


def scaled_px(base: int) -> int:
    """A fixed pixel size (an image's width) that grows with lecture mode like the text around it."""
    return round(base * LECTURE_SCALE) if st.session_state.get("lecture") else base


def row_px() -> int:
    """A table's row height in pixels: taller in lecture mode, where the grid's text is larger."""
    return round(TABLE_ROW_PX * LECTURE_SCALE) if st.session_state.get("lecture") else TABLE_ROW_PX


def table_height(rows: int) -> int:
    """Pixels for a table to show its header and every row (up to :data:`TABLE_MAX_ROWS`) without an inner scroll."""
    return (min(rows, TABLE_MAX_ROWS) + 1) * row_px() + 3  # + the frame's borders


def chart_height(base: int = 380) -> int:
    """Chart height in pixels: larger in lecture mode."""
    return int(base * 1.4) if st.session_state.get("lecture") else base


def font_size() -> int:
    """Plotly base font size: larger in lecture mode."""
    return 20 if st.session_state.get("lecture") else 13


def style_chart(fig: go.Figure, title: str, xtitle: str | None = None, ytitle: str | None = None,
                height: int = 380, **layout: Any) -> go.Figure:
    """Title, axis titles (when given), fonts, margins and a height that follow lecture mode."""
    axes = {k: v for k, v in (("xaxis_title", xtitle), ("yaxis_title", ytitle)) if v is not None}
    fig.update_layout(title=title, height=chart_height(height), font={"size": font_size()},
                      margin={"l": 10, "r": 10, "t": 60, "b": 10}, **axes, **layout)
    return fig


@contextlib.contextmanager
def friendly_errors(where: str = "") -> Iterator[None]:
    """Show a ConfigError (or anything else) as a message, never a traceback.

    Code after the ``with`` block keeps running, so the rest of the page stays.
    """
    try:
        yield
    except ConfigError as exc:
        st.error(f"{where + ': ' if where else ''}{plain(exc)}", icon="⚠️")
    except MemoryError:
        st.error("This is too big for the machine's memory. Try a smaller input or model.", icon="⚠️")
    except Exception as exc:  # noqa: BLE001 - the user must never see a traceback
        st.error(f"{where + ': ' if where else ''}something went wrong: {type(exc).__name__}: {plain(exc, 300)}",
                 icon="⚠️")
