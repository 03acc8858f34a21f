"""How a setting is declared: a dataclass field whose metadata holds its default, help and check
(config_table.py, config_features.py, config_site.py), and the table of Settings derived from them."""

from __future__ import annotations

from dataclasses import field, fields
from typing import Any

from .config_checks import Setting

REQUIRED = None  # a default of None: the key must be given


def setting(default: Any, help: str, check: Any, key: str = "") -> Any:
    """A field of the table: no dataclass default (the loader always passes every field); the
    default, help and check live in its metadata, and `key` is its TOML name when that is not a
    Python name (`from`)."""
    return field(metadata={"default": default, "help": help, "check": check, "key": key})


def key_of(f: Any) -> str:
    return str(f.metadata.get("key") or f.name)


def _table(prefix: str, cls: type) -> tuple[Setting, ...]:
    return tuple(Setting(f"{prefix}.{key_of(f)}", f.metadata["default"], f.metadata["help"], f.metadata["check"])
                 for f in fields(cls))
