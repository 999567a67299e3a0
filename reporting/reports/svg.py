"""Inline SVG charts for the offline dashboard: no scripts, fonts or network needed."""

from __future__ import annotations

from html import escape

COLORS = ("#2F5597", "#C55A11", "#548235", "#7030A0")


def bar_chart(
    title: str, items: list[tuple[str, float | None]], *, width: int = 640, bar_height: int = 22
) -> str:
    """Horizontal bars of rates (0..1), one per label."""
    left, right, top = 150, 60, 30
    height = top + bar_height * len(items) + 10
    span = width - left - right
    parts = [
        f'<svg width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f'<text x="0" y="18" class="chart-title">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(items):
        y = top + i * bar_height
        v = max(0.0, min(1.0, value or 0.0))
        parts.append(
            f'<text x="{left - 6}" y="{y + bar_height * 0.7:.1f}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{span:.1f}" '
            f'height="{bar_height - 6}" fill="#EDEDED"/>'
        )
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{span * v:.1f}" '
            f'height="{bar_height - 6}" fill="{COLORS[0]}"/>'
        )
        shown = "—" if value is None else f"{value * 100:.1f}%"
        parts.append(f'<text x="{left + span + 6}" y="{y + bar_height * 0.7:.1f}">{shown}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    title: str,
    labels: list[str],
    series: list[tuple[str, list[float | None]]],
    *,
    width: int = 640,
    height: int = 260,
) -> str:
    """Rates (0..1) over periods, one line per series, with a legend."""
    left, right, top, bottom = 50, 20, 40, 40
    w, h = width - left - right, height - top - bottom
    n = max(1, len(labels) - 1)

    def x(i: int) -> float:
        return left + (w * i / n if len(labels) > 1 else w / 2)

    def y(v: float) -> float:
        return top + h * (1 - max(0.0, min(1.0, v)))

    parts = [
        f'<svg width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f'<text x="0" y="18" class="chart-title">{escape(title)}</text>',
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(
            f'<line x1="{left}" x2="{left + w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            'stroke="#DDD"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
            f"{int(tick * 100)}%</text>"
        )
    for i, label in enumerate(labels):
        parts.append(
            f'<text x="{x(i):.1f}" y="{top + h + 18}" text-anchor="middle">{escape(label)}</text>'
        )
    for k, (name, values) in enumerate(series):
        color = COLORS[k % len(COLORS)]
        points = [(x(i), y(v)) for i, v in enumerate(values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>'
            )
        for px, py in points:
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}"/>')
        lx = left + k * 140
        parts.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{lx + 14}" y="{height - 5}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
