"""Eastron SDM register maps as data tables, and planning them into few bulk Modbus reads."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hw.errors import ConfigurationError


class Measurand(StrEnum):
    """What a register holds; the driver turns these into MeterSample fields."""

    VOLTAGE = "voltage"
    CURRENT = "current"
    POWER = "power"
    FREQUENCY = "frequency"
    ENERGY_IMPORT = "energy_import"


@dataclass(frozen=True, slots=True)
class Register:
    """One IEEE-754 float32 input register pair (function 04), high word first."""

    address: int
    measurand: Measurand
    unit: str
    phase: int | None = None  # 1..3 for per-phase values; None for totals


@dataclass(frozen=True, slots=True)
class RegisterMap:
    """A meter model: its registers and how many phases it measures."""

    model: str
    phases: int
    registers: tuple[Register, ...]


V, A, P, F, E = (
    Measurand.VOLTAGE,
    Measurand.CURRENT,
    Measurand.POWER,
    Measurand.FREQUENCY,
    Measurand.ENERGY_IMPORT,
)

# Eastron SDM630 Modbus protocol, input registers. Import energy is 0x0048 ("Total import kWh");
# 0x0156 is import + export and must not be used as the import register.
SDM630 = RegisterMap(
    "SDM630",
    3,
    (
        Register(0x0000, V, "V", 1),
        Register(0x0002, V, "V", 2),
        Register(0x0004, V, "V", 3),
        Register(0x0006, A, "A", 1),
        Register(0x0008, A, "A", 2),
        Register(0x000A, A, "A", 3),
        Register(0x0034, P, "W"),
        Register(0x0046, F, "Hz"),
        Register(0x0048, E, "kWh"),
    ),
)

# Eastron SDM120 Modbus protocol: one phase; power is the single-phase active power at 0x000C.
SDM120 = RegisterMap(
    "SDM120",
    1,
    (
        Register(0x0000, V, "V", 1),
        Register(0x0006, A, "A", 1),
        Register(0x000C, P, "W"),
        Register(0x0046, F, "Hz"),
        Register(0x0048, E, "kWh"),
    ),
)

# Eastron SDM72D-M Modbus protocol: the SDM630 layout for these measurands.
SDM72 = RegisterMap("SDM72", 3, SDM630.registers)

MODELS: dict[str, RegisterMap] = {m.model: m for m in (SDM630, SDM120, SDM72)}

# Modbus Application Protocol V1.1b3 §6.4 caps a read at 125 registers; Eastron meters answer
# at most 40 parameters (80 registers) per request.
MAX_REGISTERS_PER_READ = 80


@dataclass(frozen=True, slots=True)
class Block:
    """One bulk read: `count` registers from `start`, covering `registers`."""

    start: int
    count: int
    registers: tuple[Register, ...]


def register_map(model: str) -> RegisterMap:
    """Look a model up by name (case-insensitive); raise ConfigurationError if unknown."""
    found = MODELS.get(model.upper())
    if found is None:
        raise ConfigurationError(f"unknown meter model {model!r}; expected one of {sorted(MODELS)}")
    return found


def plan_blocks(
    registers: tuple[Register, ...], max_registers: int = MAX_REGISTERS_PER_READ
) -> tuple[Block, ...]:
    """Group registers into the fewest contiguous reads of at most `max_registers` each.

    Gaps between wanted registers are read too: one longer request is cheaper on a 9600 baud
    line than a second request's turnaround.
    """
    blocks: list[Block] = []
    start = 0
    members: list[Register] = []
    for reg in sorted(registers, key=lambda r: r.address):
        if members and reg.address + 2 - start <= max_registers:
            members.append(reg)
            continue
        if members:
            blocks.append(Block(start, members[-1].address + 2 - start, tuple(members)))
        start, members = reg.address, [reg]
    if members:
        blocks.append(Block(start, members[-1].address + 2 - start, tuple(members)))
    return tuple(blocks)
