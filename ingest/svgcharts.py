"""Bar charts as inline SVG, so an HTML report draws them with no script and no network."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

# A palette that stays distinct under the common colour-vision deficiencies, in the order
# series get them.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000"]


@dataclass
class Series:
    name: str
    values: list[float]
    color: str | None = None
    opacity: float = 1.0


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """Return evenly spaced round tick values from 0 to at least maximum."""
    if maximum <= 0:
        return [0, 1]
    raw_step = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step)
    top = math.ceil(maximum / step) * step
    return [round(i * step, 10) for i in range(int(round(top / step)) + 1)]


def _tick_label(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000:
        return f"{value / 1_000:g}k"
    return f"{value:g}"


def bar_chart(title: str, categories: list[str], series: list[Series], *, stacked: bool = False,
              y_label: str = "", width: int = 540, height: int = 260) -> str:
    """Return an <svg> element with one group of bars per category.

    Each series has one value per category. Bars of a category stand side by side, or on top
    of each other when stacked. Every bar is a <rect class="bar"> whose data-series and
    data-category attributes name what it shows, and whose <title> is its tooltip.
    """
    left, right, top, bottom = 56, 12, 28, 44
    plot_width = width - left - right
    # About 6 px a character at 11 px sans-serif, plus the swatch.
    longest = max((len(item.name) for item in series), default=1)
    legend_columns = max(1, min(3, int(plot_width // (longest * 6 + 24))))
    legend_height = 18 * math.ceil(len(series) / legend_columns)
    plot_height = height - top - bottom
    total_height = height + legend_height

    if stacked:
        maximum = max((sum(s.values[i] or 0 for s in series) for i in range(len(categories))),
                      default=0)
    else:
        maximum = max((v or 0 for s in series for v in s.values), default=0)
    ticks = nice_ticks(maximum)
    scale = plot_height / ticks[-1]

    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{total_height}" viewBox="0 0 {width} {total_height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="{left}" y="16" class="chart-title">{escape(title)}</text>',
    ]
    for tick in ticks:
        y = top + plot_height - tick * scale
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                     'class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">'
                     f'{_tick_label(tick)}</text>')
    if y_label:
        parts.append(f'<text transform="translate(14 {top + plot_height / 2}) rotate(-90)" '
                     f'class="axis-label" text-anchor="middle">{escape(y_label)}</text>')

    band = plot_width / max(len(categories), 1)
    group_width = band * 0.8
    bar_width = group_width if stacked else group_width / max(len(series), 1)
    label_every = max(1, math.ceil(len(categories) / 12))
    for index, category in enumerate(categories):
        x0 = left + index * band + (band - group_width) / 2
        base = 0.0
        for number, item in enumerate(series):
            value = item.values[index] or 0
            color = item.color or PALETTE[number % len(PALETTE)]
            bar_height = value * scale
            if stacked:
                x, y = x0, top + plot_height - (base + value) * scale
                base += value
            else:
                x, y = x0 + number * bar_width, top + plot_height - bar_height
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(bar_width - 1, 1):.1f}" '
                f'height="{bar_height:.1f}" fill="{color}" fill-opacity="{item.opacity}" '
                f'data-series="{escape(item.name)}" data-category="{escape(category)}">'
                f'<title>{escape(item.name)}, {escape(category)}: {value:,.6g}</title></rect>'
            )
        if index % label_every == 0:
            parts.append(f'<text x="{x0 + group_width / 2:.1f}" y="{top + plot_height + 16}" '
                         f'class="tick" text-anchor="middle">{escape(category)}</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_height}" '
                 f'y2="{top + plot_height}" class="axis"/>')

    for number, item in enumerate(series):
        x = left + (number % legend_columns) * (plot_width / legend_columns)
        y = height + 18 * (number // legend_columns) - 8
        color = item.color or PALETTE[number % len(PALETTE)]
        parts.append(f'<rect x="{x:.1f}" y="{y - 9}" width="10" height="10" fill="{color}" '
                     f'fill-opacity="{item.opacity}"/>')
        parts.append(f'<text x="{x + 14:.1f}" y="{y}" class="legend">{escape(item.name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


STYLE = """
svg.chart { font: 11px sans-serif; background: #fff; }
svg.chart .chart-title { font-weight: bold; font-size: 13px; }
svg.chart .grid { stroke: #e5e5e5; }
svg.chart .axis { stroke: #888; }
svg.chart .tick, svg.chart .legend, svg.chart .axis-label { fill: #333; }
"""
