"""Fast constructors for the frozen, slotted dataclasses built on the per-frame hot path."""

# A frozen dataclass's generated __init__ sets each field through object.__setattr__, which
# costs about as much as the rest of a round trip's bookkeeping. These makers fill the slots
# through their member descriptors instead: same object, same immutability afterwards, about
# twice as fast. Only for classes whose fields are all plain slots (no defaults, no post-init).

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def maker(cls: type[T]) -> Callable[..., T]:
    """Return ``make(*field_values) -> cls`` that skips the frozen __init__."""
    setters = [cls.__dict__[f.name].__set__ for f in fields(cls)]  # type: ignore[arg-type]
    new = object.__new__
    if len(setters) == 1:
        (s1,) = setters

        def make1(a: Any) -> T:
            obj = new(cls)
            s1(obj, a)
            return obj

        return make1
    if len(setters) == 2:
        s1, s2 = setters

        def make2(a: Any, b: Any) -> T:
            obj = new(cls)
            s1(obj, a)
            s2(obj, b)
            return obj

        return make2
    if len(setters) == 3:
        s1, s2, s3 = setters

        def make3(a: Any, b: Any, c: Any) -> T:
            obj = new(cls)
            s1(obj, a)
            s2(obj, b)
            s3(obj, c)
            return obj

        return make3
    return cls  # four or more fields: rare frames, the normal constructor is fine
