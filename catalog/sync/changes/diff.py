"""Old and new watched values to an event's ``changes``, and the words that say it.

``changes`` maps a field to ``[old, new]``; a dict field (tags, metrics) contributes
one entry per key that differs (``"metrics.rmse": [0.41, 0.38]``), aliases one per
alias (``"@production": [3, 4]``; ``[null, 4]`` added, ``[3, null]`` removed). Values
come from MLflow and may be long: each string is cut to ``VALUE_MAX_CHARS`` and an
event holds at most ``MAX_ENTRIES`` entries (the rest are counted under ``MORE_KEY``),
so an event stays small whatever a source holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from catalog.sync.changes.entities import EntitySpec
from catalog.sync.text_limits import Limit, cut

VALUE_MAX_CHARS = 500
KEY_MAX_CHARS = 300
MAX_ENTRIES = 50
# Where an event says how many entries it left out.
MORE_KEY = "(more)"
# Entries named in a summary; the rest are "and N more".
SUMMARY_ENTRIES = 3
# Values at most this long are quoted in a summary; longer ones are "changed".
SUMMARY_VALUE_CHARS = 40
_VALUE_LIMIT = Limit(max_chars=VALUE_MAX_CHARS)
_KEY_LIMIT = Limit(max_chars=KEY_MAX_CHARS)
FIELD_LABELS = {"mlflow_description": "description", "lifecycle_stage": "lifecycle"}


def bounded(value: Any) -> Any:
    """A value as an event stores it: strings cut, containers shown as bounded JSON."""
    if isinstance(value, str):
        return cut(value, _VALUE_LIMIT) if len(value) > VALUE_MAX_CHARS else value
    if isinstance(value, (list, tuple, dict)):
        text = repr(value)
        return bounded(text) if len(text) > VALUE_MAX_CHARS else value
    return value


def diff_values(
    spec: EntitySpec, old: Mapping[str, Any], new: Mapping[str, Any]
) -> tuple[dict[str, list], dict[str, list]]:
    """(changes, alias changes) between two rows' watched values; empty: no event."""
    changes: dict[str, list] = {}
    aliases: dict[str, list] = {}
    for field in spec.watched:
        before, after = old.get(field), new.get(field)
        if before == after:
            continue
        prefix = spec.keyed_fields.get(field)
        if prefix is None:
            changes[field] = [bounded(before), bounded(after)]
            continue
        target = aliases if field == spec.alias_field else changes
        target.update(_keyed_diff(prefix, before, after))
    return _capped(changes), _capped(aliases)


def _keyed_diff(prefix: str, before: Any, after: Any) -> Iterable[tuple[str, list]]:
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    for key in sorted(before.keys() | after.keys(), key=str):
        old, new = before.get(key), after.get(key)
        if old != new:
            name = f"{prefix}{key}"
            if len(name) > KEY_MAX_CHARS:
                name = cut(name, _KEY_LIMIT)
            yield name, [bounded(old), bounded(new)]


def _capped(changes: dict[str, list]) -> dict[str, list]:
    if len(changes) <= MAX_ENTRIES:
        return changes
    kept = dict(list(changes.items())[:MAX_ENTRIES])
    kept[MORE_KEY] = len(changes) - MAX_ENTRIES
    return kept


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    text = str(value)
    return text if len(text) <= SUMMARY_VALUE_CHARS else ""


def updated_summary(changes: Mapping[str, Any]) -> str:
    """An update in words: "status RUNNING -> FINISHED, metrics.rmse 0.41 -> 0.38"."""
    parts = []
    entries = [(field, pair) for field, pair in changes.items() if field != MORE_KEY]
    for field, (old, new) in entries[:SUMMARY_ENTRIES]:
        label = FIELD_LABELS.get(field, field)
        old_text, new_text = _shown(old), _shown(new)
        if old_text and new_text:
            parts.append(f"{label} {old_text} -> {new_text}")
        else:
            parts.append(f"{label} changed")
    more = len(entries) - SUMMARY_ENTRIES + int(changes.get(MORE_KEY, 0))
    text = ", ".join(parts)
    return f"{text} and {more} more" if more > 0 else text


def alias_summary(aliases: Mapping[str, Any]) -> str:
    """Alias changes in words: "@production moved from v3 to v4" (joined by "; ")."""
    parts = []
    for alias, pair in aliases.items():
        if alias == MORE_KEY:
            parts.append(f"{pair} more aliases changed")
            continue
        old, new = pair
        if old is None:
            parts.append(f"{alias} set to v{new}")
        elif new is None:
            parts.append(f"{alias} removed from v{old}")
        else:
            parts.append(f"{alias} moved from v{old} to v{new}")
    return "; ".join(parts)


def format_bytes(size: int) -> str:
    """A byte count for a summary: "512 B", "1.2 MB"."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
