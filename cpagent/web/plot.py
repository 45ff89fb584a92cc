"""A session's power and energy over time as an inline SVG chart, drawn on the server.

Theory of operation: the x axis is the time from the first to the last sample (UTC clock
labels); power in W is drawn against the left axis, energy delivered in the session (kWh,
the register minus its value at the start) against the right one. Each axis runs from 0
to a round number at or above the series' maximum, so the picture never clips. A session
with one sample shows that sample as dots; one without samples says so in words. Samples
beyond MAX_POINTS are thinned evenly (first and last kept) to keep pages small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cpagent.web.markup import escape
from cpagent.web.timefmt import parse_utc

WIDTH, HEIGHT = 520, 180
LEFT, RIGHT, TOP, BOTTOM = 52, 56, 12, 30  # margins for the axis labels
MAX_POINTS = 400
SECONDS_SHOWN_BELOW_S = 600.0  # shorter sessions label their ends to the second
POWER_COLOUR, ENERGY_COLOUR = "#c0392b", "#2471a3"


@dataclass(frozen=True, slots=True)
class Sample:
    """One meter sample of a session: when, power (W) and the energy register (Wh)."""

    at: datetime
    power_w: float
    energy_wh: float


@dataclass(frozen=True, slots=True)
class Frame:
    """Where the plot area lies in the SVG and what it spans in data units."""

    t0: float
    t1: float
    power_max_w: float
    energy_max_kwh: float

    def x(self, t: float) -> float:
        span = self.t1 - self.t0
        share = 0.5 if span <= 0 else (t - self.t0) / span
        return LEFT + share * (WIDTH - LEFT - RIGHT)

    def y(self, value: float, top: float) -> float:
        share = 0.0 if top <= 0 else min(max(value / top, 0.0), 1.0)
        return HEIGHT - BOTTOM - share * (HEIGHT - TOP - BOTTOM)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= value (1 for value <= 0)."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        candidate = step * 10.0**exponent
        if candidate >= value * (1 - 1e-12):
            return candidate
    return 10.0 ** (exponent + 1)


def samples_from(raw: Sequence[Sequence[object]]) -> list[Sample]:
    """(ISO time, power_w, energy_wh) triples as Samples, oldest first; unreadable ones dropped."""
    out = []
    for item in raw:
        try:
            at, power, energy = item[0], item[1], item[2]
            sample = Sample(parse_utc(str(at)), float(power), float(energy))  # type: ignore[arg-type]
        except (TypeError, ValueError, IndexError):
            continue
        if math.isfinite(sample.power_w) and math.isfinite(sample.energy_wh):
            out.append(sample)
    out.sort(key=lambda s: s.at)
    return out


def thinned(samples: Sequence[Sample], limit: int = MAX_POINTS) -> list[Sample]:
    """At most `limit` samples spread evenly over `samples`, the first and last always kept."""
    if len(samples) <= limit:
        return list(samples)
    step = (len(samples) - 1) / (limit - 1)
    return [samples[round(i * step)] for i in range(limit)]


def session_plot(
    raw: Sequence[Sequence[object]], energy_start_wh: float | None = None, title: str = ""
) -> str:
    """The SVG element for one session's samples; energy is counted from `energy_start_wh`
    (the session's meterStart) or, when that is unknown, from the first sample."""
    samples = thinned(samples_from(raw))
    head = (
        f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title or "power and energy over time")}">'
    )
    if not samples:  # a short box with words: nothing to scale
        return (
            f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="28" '
            f'viewBox="0 0 {WIDTH} 28" role="img" aria-label="{escape(title or "no samples")}">'
            f'<text class="empty" x="{LEFT}" y="18" font-family="sans-serif" font-size="12" '
            f'fill="#777">no meter samples</text></svg>'
        )
    origin = samples[0].energy_wh if energy_start_wh is None else energy_start_wh
    energy_kwh = [max(s.energy_wh - origin, 0.0) / 1000 for s in samples]
    times = [s.at.timestamp() for s in samples]
    frame = Frame(
        times[0],
        times[-1],
        nice_ceiling(max(s.power_w for s in samples)),
        nice_ceiling(max(energy_kwh)),
    )
    power_pts = [
        (frame.x(t), frame.y(s.power_w, frame.power_max_w))
        for t, s in zip(times, samples, strict=True)
    ]
    energy_pts = [
        (frame.x(t), frame.y(e, frame.energy_max_kwh))
        for t, e in zip(times, energy_kwh, strict=True)
    ]
    parts = [head, _axes(frame, samples[0].at, samples[-1].at)]
    parts.append(_series("power", power_pts, POWER_COLOUR))
    parts.append(_series("energy", energy_pts, ENERGY_COLOUR))
    parts.append("</svg>")
    return "".join(parts)


def _series(name: str, points: list[tuple[float, float]], colour: str) -> str:
    d = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)
    path = (
        f'<path class="{name}" d="{d}" fill="none" stroke="{colour}" '
        f'stroke-width="1.6" stroke-linejoin="round"/>'
    )
    if len(points) == 1:  # a lone point draws no line: mark it
        x, y = points[0]
        path += f'<circle class="{name}" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>'
    return path


def _axes(frame: Frame, start: datetime, stop: datetime) -> str:
    x0, x1 = LEFT, WIDTH - RIGHT
    y0, y1 = HEIGHT - BOTTOM, TOP
    out = [
        f'<g class="axes" stroke="#888" stroke-width="1">'
        f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}"/>'
        f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}"/>'
        f'<line x1="{x1}" y1="{y0}" x2="{x1}" y2="{y1}"/></g>',
        '<g class="labels" font-size="10" font-family="sans-serif" fill="#333">',
    ]
    for share in (0.0, 0.5, 1.0):
        y = y0 - share * (y0 - y1)
        power_unit, energy_unit = (" W", " kWh") if share == 1.0 else ("", "")
        out.append(
            f'<text x="{x0 - 4}" y="{y + 3:.1f}" text-anchor="end" fill="{POWER_COLOUR}">'
            f"{_num(share * frame.power_max_w)}{power_unit}</text>"
        )
        energy = _num(share * frame.energy_max_kwh)
        out.append(
            f'<text x="{x1 + 4}" y="{y + 3:.1f}" text-anchor="start" '
            f'fill="{ENERGY_COLOUR}">{energy}{energy_unit}</text>'
        )
    clock = "%H:%M:%S" if (stop - start).total_seconds() < SECONDS_SHOWN_BELOW_S else "%H:%M"
    out.append(f'<text x="{x0}" y="{y0 + 14}" text-anchor="start">{start:{clock}} UTC</text>')
    out.append(f'<text x="{x1}" y="{y0 + 14}" text-anchor="end">{stop:{clock}} UTC</text>')
    out.append(
        f'<text x="{(x0 + x1) / 2:.0f}" y="{y0 + 26}" text-anchor="middle">time'
        f' (power <tspan fill="{POWER_COLOUR}">W</tspan>, energy '
        f'<tspan fill="{ENERGY_COLOUR}">kWh</tspan>)</text>'
    )
    out.append("</g>")
    return "".join(out)


def _num(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.2g}"
