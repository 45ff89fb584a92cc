"""Register maps, bulk-read planning and float decoding (pure, no I/O)."""

from __future__ import annotations

import math

import pytest

from hw.errors import ConfigurationError, MeterError
from hw.meters.registers import (
    MODELS,
    SDM120,
    SDM630,
    Measurand,
    plan_blocks,
    register_map,
)
from hw.meters.rtu_sim import float_words
from hw.meters.sdm import decode_float32, decode_sample


def test_sdm630_import_energy_is_0x0048_not_import_plus_export():
    energy = [r for r in SDM630.registers if r.measurand is Measurand.ENERGY_IMPORT]
    assert [(r.address, r.unit) for r in energy] == [(0x0048, "kWh")]


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_is_one_request_per_sample_at_the_eastron_limit(model):
    blocks = plan_blocks(MODELS[model].registers)
    assert len(blocks) == 1
    assert blocks[0].start == 0 and blocks[0].count == 0x4A


@pytest.mark.parametrize(
    ("max_registers", "expected"),
    [(80, [(0, 74)]), (20, [(0, 12), (52, 20), (72, 2)]), (2, None)],
)
def test_plan_blocks_respects_the_request_size(max_registers, expected):
    blocks = plan_blocks(SDM630.registers, max_registers)
    assert all(b.count <= max_registers for b in blocks)
    covered = sorted(r.address for b in blocks for r in b.registers)
    assert covered == sorted(r.address for r in SDM630.registers)
    if expected is not None:
        assert [(b.start, b.count) for b in blocks] == expected
    else:
        assert len(blocks) == len(SDM630.registers)


@pytest.mark.parametrize("name", ["sdm630", "SDM120", "Sdm72"])
def test_register_map_names_are_case_insensitive(name):
    assert register_map(name).model == name.upper()


def test_unknown_model_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="SDM999"):
        register_map("SDM999")


@pytest.mark.parametrize("value", [0.0, 230.5, -12.25, 123456.0])
def test_float32_round_trip_big_endian_word_order(value):
    assert decode_float32(*float_words(value)) == pytest.approx(value)


def _words_for(regmap, values):
    words = [0] * 0x4A
    for reg in regmap.registers:
        high, low = float_words(values[reg.measurand])
        words[reg.address], words[reg.address + 1] = high, low
    return words


def test_decode_sample_scales_kwh_to_wh_and_fills_phases():
    values = {
        Measurand.VOLTAGE: 230.0,
        Measurand.CURRENT: 10.0,
        Measurand.POWER: 2300.0,
        Measurand.FREQUENCY: 50.0,
        Measurand.ENERGY_IMPORT: 1.5,
    }
    (block,) = plan_blocks(SDM120.registers)
    sample = decode_sample(SDM120, [(block, _words_for(SDM120, values))], timestamp=7.0)
    assert sample.energy_wh == 1500.0
    assert (sample.voltage_v, sample.current_a, sample.power_w) == ((230.0,), (10.0,), 2300.0)
    assert (sample.frequency_hz, sample.timestamp) == (50.0, 7.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_decode_sample_rejects_non_finite_values(bad):
    values = {m: 1.0 for m in Measurand}
    values[Measurand.POWER] = bad
    (block,) = plan_blocks(SDM630.registers)
    with pytest.raises(MeterError, match="0x0034"):
        decode_sample(SDM630, [(block, _words_for(SDM630, values))], timestamp=0.0)


def test_decode_sample_rejects_a_short_reply():
    (block,) = plan_blocks(SDM630.registers)
    with pytest.raises(MeterError, match="short reply"):
        decode_sample(SDM630, [(block, [0] * 10)], timestamp=0.0)
