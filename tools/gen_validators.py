"""Write the pre-generated schema validators (cpagent/core/validators/) from the shipped schemas.

Run after changing a schema or upgrading fastjsonschema: `python3 tools/gen_validators.py`;
`--check` only reports (exit 1) which modules are missing, stale or left over.
tests/core/test_validators.py checks the same, so the committed code cannot drift.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cpagent.core.schemas import GENERATED  # noqa: E402
from cpagent.core.validator_source import module_source  # noqa: E402

CORE = REPO / "cpagent" / "core"


def expected() -> dict[Path, str]:
    """Every generated module's path and the text it must have."""
    wanted: dict[Path, str] = {}
    for folder in GENERATED.values():
        target = CORE / "validators" / folder
        wanted[target / "__init__.py"] = (
            f'"""Validators generated from cpagent/core/schemas/{folder}/ by '
            'tools/gen_validators.py."""\n'
        )
        for schema in sorted((CORE / "schemas" / folder).glob("*.json")):
            source = module_source(folder, schema.stem, schema.read_text(encoding="utf-8"))
            wanted[target / f"{schema.stem}.py"] = source
    return wanted


def differences(wanted: dict[Path, str]) -> list[str]:
    """What differs between the tree and `wanted`, one line per module."""
    found: list[str] = []
    for path, text in wanted.items():
        if not path.exists():
            found.append(f"missing: {path.relative_to(REPO)}")
        elif path.read_text(encoding="utf-8") != text:
            found.append(f"stale: {path.relative_to(REPO)}")
    for folder in GENERATED.values():
        for path in sorted((CORE / "validators" / folder).glob("*.py")):
            if path not in wanted:
                found.append(f"left over: {path.relative_to(REPO)}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report differences, write nothing")
    args = parser.parse_args(argv)
    wanted = expected()
    diffs = differences(wanted)
    if args.check:
        print("\n".join(diffs) or "validators are in sync with the schemas")
        return 1 if diffs else 0
    for line in diffs:
        if line.startswith("left over: "):
            (REPO / line.removeprefix("left over: ")).unlink()
    for path, text in wanted.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    print(f"{len(wanted)} modules in sync ({len(diffs)} written or removed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
