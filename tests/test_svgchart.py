"""The report's own SVG charts: round ticks, numpy-compatible statistics, escaped text, shapes inside the chart."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from runner.outputs.charts import (
    histogram_counts,
    histogram_edges,
    latency_chart_svg,
    latency_percentiles,
    outcome_chart_svg,
    rate_chart_svg,
)
from runner.outputs.report import Summary
from runner.outputs.svgchart import Chart, log_ticks, nice_ticks, tick_label

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("low", "high", "most", "integer", "expected"),
    [
        (0, 336.25, 7, True, [0, 50, 100, 150, 200, 250, 300]),
        (0, 2.3, 5, False, [0, 0.5, 1, 1.5, 2]),
        (0, 13, 6, False, [0, 2.5, 5, 7.5, 10, 12.5]),
        (0, 1.15, 5, True, [0, 1]),  # counts never get a tick at 0.5
        (5, 5, 5, False, [5]),
    ],
)
def test_ticks_are_round_and_within_the_range(low: float, high: float, most: int, integer: bool,
                                               expected: list[float]) -> None:
    assert nice_ticks(low, high, most=most, integer=integer) == expected


def test_log_ticks_add_2_and_5_multiples_when_few_decades_fit() -> None:
    assert log_ticks(1, 50_000) == [1, 10, 100, 1000, 10_000]
    assert log_ticks(120, 30_000) == [200, 500, 1000, 2000, 5000, 10_000, 20_000]


def test_tick_labels_have_separators_and_only_the_decimals_the_step_needs() -> None:
    assert [tick_label(v, [0, 2500, 5000]) for v in (0, 2500, 5000)] == ["0", "2,500", "5,000"]
    assert [tick_label(v, [0, 2.5, 5]) for v in (0, 2.5, 5)] == ["0", "2.5", "5"]


def test_percentiles_interpolate_between_neighbours_like_numpy() -> None:
    # numpy.percentile([1, 2, 3, 4, 10], [50, 90, 99]) == [3.0, 7.6, 9.76]
    marks = latency_percentiles([4, 1, 10, 3, 2])
    assert marks["p50"] == 3.0
    assert marks["p90"] == pytest.approx(7.6)
    assert marks["p99"] == pytest.approx(9.76)
    assert marks["max"] == 10.0


def test_histogram_bins_hold_every_value_once() -> None:
    values = sorted(float(v) for v in [1, 1, 2, 3, 5, 8, 13, 21, 34, 55])
    edges = histogram_edges(values, logarithmic=False)
    assert (edges[0], edges[-1]) == (1, 55)
    assert sum(histogram_counts(values, edges)) == len(values)
    log_edges = histogram_edges(values, logarithmic=True)
    assert len(log_edges) == 41
    assert sum(histogram_counts(values, log_edges)) == len(values)


def test_one_latency_value_gets_one_bin_around_it() -> None:
    assert histogram_edges([7.0, 7.0], logarithmic=False) == [6.5, 7.5]


def test_chart_text_is_escaped() -> None:
    chart = Chart(200, 100, 'a <b> & "c"')
    chart.text(10, 10, "<script>alert(1)</script>")
    svg = chart.svg()
    assert "<script" not in svg
    ET.fromstring(svg)  # well-formed


def _shapes_inside(svg: str) -> None:
    root = ET.fromstring(svg)
    width, height = (float(v) for v in root.attrib["viewBox"].split()[2:])
    for rect in root.iter(f"{SVG}rect"):
        assert 0 <= float(rect.attrib["x"]) <= width
        assert 0 <= float(rect.attrib["y"]) + float(rect.attrib["height"]) <= height + 0.01
    for path in root.iter(f"{SVG}path"):
        numbers = [float(n) for n in re.findall(r"-?[\d.]+", path.attrib["d"])]
        assert all(0 <= x <= width for x in numbers[0::2])
        assert all(0 <= y <= height for y in numbers[1::2])


def test_the_three_charts_are_well_formed_svg_with_everything_inside() -> None:
    outcomes = outcome_chart_svg(Summary(total=10, success=7, failed=2, invalid=1))
    rate = rate_chart_svg([i / 3 for i in range(100)], 3.0)
    latency = latency_chart_svg([120 + i % 50 for i in range(500)] + [30_000])
    for svg in (outcomes, rate, latency):
        assert svg is not None
        _shapes_inside(svg)
    assert "7 (70 %)" in str(outcomes)
    assert "average 3.00 requests/s" in str(rate)
    assert "(log scale)" in str(latency)
    assert "p99" in str(latency)


@pytest.mark.parametrize("latencies", [
    [1] * 400 + [5] * 50 + [9] * 10 + [12],  # tall bars on the left, the percentiles to the left too
    [3],  # one row: one bar the full width of the chart
    [120 + i % 50 for i in range(500)] + [30_000],  # a long tail on a log scale
])
def test_the_latency_legend_sits_clear_of_the_bars(latencies: list[int]) -> None:
    svg = latency_chart_svg(latencies)
    assert svg is not None
    root = ET.fromstring(svg)
    legend = [text for text in root.iter(f"{SVG}text") if text.attrib.get("font-size") == "12"]
    assert [text.text.split()[0] for text in legend if text.text] == ["p50", "p90", "p99"]
    left = min(float(text.attrib["x"]) for text in legend) - 28  # the line samples start 28 px before the text
    top = min(float(text.attrib["y"]) for text in legend) - 8
    bottom = max(float(text.attrib["y"]) for text in legend) + 8
    right = max(float(text.attrib["x"]) + 12 * 0.6 * len(text.text or "") for text in legend)
    for rect in root.iter(f"{SVG}rect"):
        x, y = float(rect.attrib["x"]), float(rect.attrib["y"])
        beside = x + float(rect.attrib["width"]) <= left or x >= right
        assert beside or y >= bottom or y + float(rect.attrib["height"]) <= top, rect.attrib
