"""Theme files: TOML under ``themes/`` (packaged as ``jitscope.themes``), read with tomllib
and turned into Textual themes. Users may add their own in ``$JITSCOPE_HOME/themes``.

A theme file holds ``textual.theme.Theme`` fields (``name``, ``primary``, ``dark``...) and an
optional ``[variables]`` table. A broken file is reported, never fatal.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

if TYPE_CHECKING:
    from textual.app import App

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10: tomli when present, else the built-in Textual themes
    try:
        import tomli as tomllib
    except ImportError:
        tomllib = None

DEFAULT_THEME = "jitscope-dark"
THEME_ENV = "JITSCOPE_THEME"
_FIELDS = {f.name for f in dataclasses.fields(Theme)}
_COLOR_FIELDS = {"primary", "secondary", "warning", "error", "success", "accent", "foreground",
                 "background", "surface", "panel", "boost"}
# Plot series take these theme colours in order (stable per series index).
PLOT_ROLES = ("primary", "accent", "success", "secondary", "error", "warning")


def theme_from_mapping(data: dict[str, Any], source: str) -> Theme:
    """A Theme from parsed TOML; ValueError with a one-line reason when it is not valid."""
    unknown = set(data) - _FIELDS
    if unknown:
        raise ValueError(f"{source}: unknown keys {', '.join(sorted(unknown))}")
    if not isinstance(data.get("name"), str) or not data["name"]:
        raise ValueError(f"{source}: a theme needs a name")
    if not isinstance(data.get("primary"), str):
        raise ValueError(f"{source}: a theme needs a primary colour")
    for key in _COLOR_FIELDS & set(data):
        try:
            Color.parse(data[key])
        except ColorParseError:
            raise ValueError(f"{source}: {key} = {data[key]!r} is not a colour") from None
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError(f"{source}: [variables] must be a table")
    return Theme(**{**data, "variables": {str(k): str(v) for k, v in variables.items()}})


def _theme_files() -> Iterable[tuple[str, bytes]]:
    files: list[tuple[str, bytes]] = []
    try:
        from importlib.resources import files as resource_files

        root = resource_files("jitscope.themes")
        files = [(f"themes/{p.name}", p.read_bytes()) for p in root.iterdir() if p.name.endswith(".toml")]
    except (ModuleNotFoundError, OSError):
        files = []
    if not files:  # a source checkout that was never installed
        here = Path(__file__).resolve().parents[2] / "themes"
        files = [(f"themes/{p.name}", p.read_bytes()) for p in here.glob("*.toml")]
    yield from sorted(files)
    home = os.environ.get("JITSCOPE_HOME")
    if home:
        for p in sorted((Path(home).expanduser() / "themes").glob("*.toml")):
            try:
                yield str(p), p.read_bytes()
            except OSError:
                continue


def load_themes() -> tuple[list[Theme], list[str]]:
    """Every theme file as a Theme, and one problem line per file that could not be used."""
    themes: dict[str, Theme] = {}
    problems: list[str] = []
    if tomllib is None:  # pragma: no cover
        return [], ["theme files need Python 3.11+ (tomllib) or the tomli package"]
    for source, raw in _theme_files():
        try:
            theme = theme_from_mapping(tomllib.loads(raw.decode("utf-8")), source)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError, TypeError) as exc:
            problems.append(f"theme {source} ignored: {exc}")
            continue
        themes[theme.name] = theme
    ordered = sorted(themes.values(), key=lambda t: (t.name != DEFAULT_THEME, not t.dark, t.name))
    return ordered, problems


def rgb(value: str, background: str = "#000000") -> tuple[int, int, int]:
    """A theme colour string (hex, rgb(), with or without alpha) as an RGB tuple."""
    color = Color.parse(value)
    if color.a < 1:
        color = Color.parse(background) + color
    return (color.r, color.g, color.b)


def install_themes(app: App[Any], wanted: str | None) -> tuple[list[str], list[str]]:
    """Register every theme file on ``app`` and start it in ``wanted`` (else $JITSCOPE_THEME,
    else the default) before the first frame; returns the names ``t`` cycles through and one
    problem line per theme file that could not be used."""
    from textual.app import App

    themes, problems = load_themes()
    names = [t.name for t in themes]
    for t in themes:
        app.register_theme(t)
    wanted = wanted or os.environ.get(THEME_ENV) or DEFAULT_THEME
    first = wanted if wanted in app.available_themes else names[0] if names else None
    if first is not None:
        app.set_reactive(App.theme, first)
        dark = app.current_theme.dark
        app.set_class(dark, "-dark-mode", update=False)
        app.set_class(not dark, "-light-mode", update=False)
    return names or ["textual-dark", "textual-light"], problems
