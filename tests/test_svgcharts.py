"""Inline SVG bar charts for the HTML report."""

import re

import pytest

from ingest.svgcharts import Series, bar_chart, nice_ticks


@pytest.mark.parametrize("maximum, expected", [
    (0, [0, 1]),
    (7, [0, 2, 4, 6, 8]),
    (100, [0, 20, 40, 60, 80, 100]),
    (12.3, [0, 2.5, 5, 7.5, 10, 12.5]),
    (0.42, [0, 0.1, 0.2, 0.3, 0.4, 0.5]),
])
def test_nice_ticks(maximum, expected):
    assert nice_ticks(maximum) == expected


def bars(svg):
    return [
        {"series": series, "category": category, "y": float(y), "height": float(height)}
        for y, height, series, category in re.findall(
            r'<rect class="bar" x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" '
            r'fill="[^"]+" fill-opacity="[\d.]+" data-series="([^"]*)" data-category="([^"]*)"',
            svg)
    ]


def test_grouped_bars_one_per_series_and_category():
    svg = bar_chart("Grouped", ["a", "b"], [Series("x", [1, 2]), Series("y", [4, 0])])

    drawn = bars(svg)

    assert [(bar["series"], bar["category"]) for bar in drawn] == [
        ("x", "a"), ("y", "a"), ("x", "b"), ("y", "b")]
    # The tallest bar (4) reaches the top tick (4): the full plot height of 188 px.
    assert drawn[1]["height"] == 188.0
    assert drawn[0]["height"] == 47.0
    assert drawn[3]["height"] == 0.0


def test_stacked_bars_sit_on_each_other():
    svg = bar_chart("Stacked", ["a"], [Series("x", [1]), Series("y", [3])], stacked=True)

    lower, upper = bars(svg)

    assert lower["y"] == pytest.approx(upper["y"] + upper["height"])
    assert lower["height"] + upper["height"] == 188.0


def test_text_is_escaped():
    svg = bar_chart("<Title>", ["a&b"], [Series("<s>", [1])])

    assert "<Title>" not in svg
    assert "&lt;Title&gt;" in svg
    assert 'data-category="a&amp;b"' in svg
    assert 'data-series="&lt;s&gt;"' in svg


def test_missing_values_draw_empty_bars():
    svg = bar_chart("Gaps", ["a", "b"], [Series("x", [None, 2])])

    assert [bar["height"] for bar in bars(svg)] == [0.0, 188.0]
