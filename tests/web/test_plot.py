"""The server-side SVG plot: its paths carry every sample, scaled into the plot area."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from cpagent.web.plot import (
    BOTTOM,
    HEIGHT,
    LEFT,
    MAX_POINTS,
    RIGHT,
    TOP,
    WIDTH,
    nice_ceiling,
    session_plot,
)
from tests.web.fakes import session

SVG = "{http://www.w3.org/2000/svg}"


def _tree(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def _points(svg: str, name: str) -> list[tuple[float, float]]:
    path = _tree(svg).find(f"{SVG}path[@class='{name}']")
    assert path is not None, f"no {name} path in {svg[:200]}"
    return [(float(x), float(y)) for x, y in re.findall(r"([\d.]+),([\d.]+)", path.get("d", ""))]


def _texts(svg: str) -> list[str]:
    return ["".join(t.itertext()) for t in _tree(svg).iter(f"{SVG}text")]


def test_every_sample_is_a_point_on_both_paths() -> None:
    s = session(1, samples=13)
    svg = session_plot(s["samples"], s["meter_start_wh"])
    assert len(_points(svg, "power")) == 13
    assert len(_points(svg, "energy")) == 13


def test_points_are_scaled_into_the_plot_area() -> None:
    samples = [
        ("2026-12-01T10:00:00Z", 0, 5000),
        ("2026-12-01T10:30:00Z", 10000, 7500),
        ("2026-12-01T11:00:00Z", 5000, 10000),
    ]
    svg = session_plot(samples, 5000)
    power = _points(svg, "power")
    energy = _points(svg, "energy")
    bottom, top = HEIGHT - BOTTOM, TOP
    # time: first sample on the left axis, last on the right, the middle one halfway
    assert [x for x, _ in power] == pytest.approx(
        [LEFT, (LEFT + WIDTH - RIGHT) / 2, WIDTH - RIGHT], abs=0.1
    )
    # power axis 0..10000 W: 0 at the bottom, 10 kW at the top, 5 kW halfway
    assert [y for _, y in power] == pytest.approx([bottom, top, (bottom + top) / 2], abs=0.1)
    # energy counted from meterStart: 0, 2.5, 5 kWh on a 0..5 kWh axis
    assert [y for _, y in energy] == pytest.approx([bottom, (bottom + top) / 2, top], abs=0.1)
    texts = _texts(svg)
    assert "10000 W" in texts and "5 kWh" in texts, texts
    assert "10:00 UTC" in texts and "11:00 UTC" in texts


def test_a_session_shorter_than_ten_minutes_labels_its_ends_with_seconds() -> None:
    samples = [("2026-12-01T10:00:05Z", 7400, 100), ("2026-12-01T10:00:50Z", 7400, 190)]
    texts = _texts(session_plot(samples, 100))
    assert "10:00:05 UTC" in texts and "10:00:50 UTC" in texts, texts


def test_energy_without_meter_start_counts_from_the_first_sample() -> None:
    samples = [("2026-12-01T10:00:00Z", 1000, 90000), ("2026-12-01T11:00:00Z", 1000, 91000)]
    energy = _points(session_plot(samples), "energy")
    assert energy[0][1] == pytest.approx(HEIGHT - BOTTOM, abs=0.1)  # 0 kWh
    assert energy[1][1] == pytest.approx(TOP, abs=0.1)  # 1 kWh, the top of a 0..1 axis


def test_a_session_without_samples_says_so_and_draws_no_path() -> None:
    svg = session_plot([])
    assert _tree(svg).find(f"{SVG}path") is None
    assert "no meter samples" in _texts(svg)


def test_one_sample_is_drawn_as_visible_dots() -> None:
    svg = session_plot([("2026-12-01T10:00:00Z", 2500, 100)], 100)
    circles = list(_tree(svg).iter(f"{SVG}circle"))
    assert {c.get("class") for c in circles} == {"power", "energy"}
    power = next(c for c in circles if c.get("class") == "power")
    assert float(power.get("cx", "nan")) == pytest.approx((LEFT + WIDTH - RIGHT) / 2, abs=0.1)
    # 2500 W on a 0..2500 W axis: at the top
    assert float(power.get("cy", "nan")) == pytest.approx(TOP, abs=0.1)
    assert len(_points(svg, "power")) == 1


def test_unreadable_samples_are_dropped_and_order_is_by_time() -> None:
    samples = [
        ("2026-12-01T11:00:00Z", 2000, 2),
        ("not a time", 1, 1),
        ("x",),
        ("2026-12-01T10:00:00Z", 1000, 1),
        ("2026-12-01T10:30:00Z", "nan", 1),
    ]
    power = _points(session_plot(samples), "power")
    assert len(power) == 2
    assert power[0][0] < power[1][0]
    assert power[0][1] > power[1][1]  # 1000 W lower on the page than 2000 W


def test_long_sessions_are_thinned_to_a_bounded_path() -> None:
    s = session(1, samples=5000)
    assert len(_points(session_plot(s["samples"], s["meter_start_wh"]), "power")) == MAX_POINTS


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [
        (0, 1),
        (-5, 1),
        (0.3, 0.5),
        (1, 1),
        (7360, 10000),
        (2100, 2500),
        (11, 20),
        (1.5, 2),
    ],
)
def test_axis_tops_are_round_numbers_at_or_above_the_maximum(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == pytest.approx(ceiling)
