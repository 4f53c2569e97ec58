"""A change event's ``changes`` in words: "rmse 0.41 → 0.38", "@production v3 → v4".

``changes`` maps a watched field to ``[old, new]`` (see ``ChangeEvent``); an artifact
summary maps counts and bytes to single numbers. The values come from MLflow and S3:
any JSON at all, so every shape is handled, long values are cut (pages only: exports
write ``changes`` whole) and at most ``PAIRS_SHOWN`` fields are listed. The results are
plain strings: templates escape them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.template.defaultfilters import filesizeformat

from catalog.formatting import format_metric

PAIRS_SHOWN = 6
VALUE_CHARS = 60
LABEL_CHARS = 60
NOTHING = "none"
_METRIC_PREFIX = "metrics."
_PARAM_PREFIX = "params."
_TAG_PREFIX = "tags."
_ALIAS_PREFIX = "@"


@dataclass(frozen=True)
class ChangeWords:
    """One changed field in words: ``old`` is None for a summary's single value."""

    label: str
    new: str
    old: str | None = None

    @property
    def is_pair(self) -> bool:
        return self.old is not None


def cut(text: str, limit: int = VALUE_CHARS) -> str:
    """``text`` on one line, at most ``limit`` characters (an ellipsis marks the cut)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(field: str) -> str:
    if field.startswith(_METRIC_PREFIX):
        return cut(field[len(_METRIC_PREFIX) :], LABEL_CHARS)
    if field.startswith(_PARAM_PREFIX):
        return cut("param " + field[len(_PARAM_PREFIX) :], LABEL_CHARS)
    if field.startswith(_TAG_PREFIX):
        return cut("tag " + field[len(_TAG_PREFIX) :], LABEL_CHARS)
    if field.startswith(_ALIAS_PREFIX):
        return cut(field, LABEL_CHARS)
    return cut(field.replace("_", " "), LABEL_CHARS)


def _value(field: str, value) -> str:
    """One value in words, as the field's kind reads best."""
    if value is None or value == "":
        return NOTHING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field.startswith(_ALIAS_PREFIX) and isinstance(value, int):
        return f"v{value}"
    if isinstance(value, int | float):
        if "bytes" in field and isinstance(value, int) and value >= 0:
            return filesizeformat(value).replace("\xa0", " ")
        return format_metric(value) if isinstance(value, float) else str(value)
    if isinstance(value, dict):
        return cut("; ".join(f"{key}={item}" for key, item in sorted(value.items(), key=str)))
    if isinstance(value, list):
        return cut(", ".join(str(item) for item in value))
    return cut(str(value))


def change_words(changes) -> tuple[list[ChangeWords], int]:
    """The first ``PAIRS_SHOWN`` changes of an event in words, and how many more there are.

    Aliases first (the moves people look for), then fields by name.
    """
    if not isinstance(changes, dict):
        return [], 0
    fields = sorted(changes, key=lambda field: (not str(field).startswith(_ALIAS_PREFIX), field))
    words = []
    for field in fields[:PAIRS_SHOWN]:
        value = changes[field]
        name = str(field)
        if isinstance(value, list) and len(value) == 2:
            words.append(
                ChangeWords(
                    label=_label(name), old=_value(name, value[0]), new=_value(name, value[1])
                )
            )
        else:
            words.append(ChangeWords(label=_label(name), new=_value(name, value)))
    return words, max(len(fields) - PAIRS_SHOWN, 0)
