"""fastnew: hot-path constructors build the same frozen objects as the dataclass __init__."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, dataclass, fields

import pytest

from cpagent.core import CallAnswered, CallError, CallReceived, CallResult, Outgoing
from cpagent.core.fastnew import maker
from cpagent.core.frames import Call


@dataclass(frozen=True, slots=True)
class One:
    a: int


@pytest.mark.parametrize(
    ("cls", "values"),
    [
        (One, (1,)),
        (CallResult, ("1", {"a": 1})),
        (Outgoing, (CallResult("1", {}), '[3,"1",{}]')),
        (Call, ("1", "Heartbeat", {})),
        (CallReceived, ("1", "Heartbeat", {})),
        (CallAnswered, ("1", "Heartbeat", {"x": [1]})),
        (CallError, ("1", "InternalError", "why", {})),  # 4 fields: the plain constructor
    ],
)
def test_made_objects_equal_normal_ones_and_stay_frozen(
    cls: type, values: tuple[object, ...]
) -> None:
    made: object = maker(cls)(*values)
    assert type(made) is cls
    assert made == cls(*values)
    assert repr(made) == repr(cls(*values))
    for field in fields(cls):  # type: ignore[arg-type]
        with pytest.raises(FrozenInstanceError):
            setattr(made, field.name, None)
