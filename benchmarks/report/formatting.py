"""How a figure is written in a table cell."""

from __future__ import annotations


def ms(value: float | None) -> str:
    """Milliseconds, with as many decimals as a microsecond-scale call needs."""
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    if value >= 0.01:
        return f"{value:.4f}"
    return f"{value:.5f}"


def fig(entry: dict | None, fmt=ms) -> str:
    return "–" if not entry else fmt(entry["median"])


def spread(entry: dict | None) -> str:
    return "–" if not entry else f"{entry['spread_pct']:.0f}%"


def span(pair) -> str:
    """A per-round (min, max) pair."""
    return "–" if not pair else f"{pair[0]:.3g}–{pair[1]:.3g}"


def met(value) -> str:
    return {True: "**met**", False: "**MISSED**", None: "not measured"}[value]
