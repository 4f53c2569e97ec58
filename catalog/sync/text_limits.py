"""Text from MLflow made storable on both databases, at the one door it comes in by.

PostgreSQL refuses three things SQLite takes: a character over a ``varchar(n)``
column's length, U+0000 in ``text`` or ``jsonb``, and a btree index entry over about
2,700 bytes. Python's drivers for both refuse a lone surrogate (U+D800-U+DFFF), which a
JSON answer can carry as an escape. One bad value used to fail the whole sync on
PostgreSQL; ADR 0016 (``docs/decisions/0016-mirrored-text-limits.md``) sets the rule:

* U+0000 and lone surrogates become U+FFFD, with a warning naming the item and field;
* a value longer than its column's limit (``Limit``) is cut, with a warning giving its
  full length, and ends in ``…`` and a digest of the whole value, so two long values
  that share a beginning stay two values (a natural key stays unique);
* both databases get the same cleaned values, and cleaning is a pure function of the
  value, so a re-sync fingerprints the same cleaned record and writes nothing.

``catalog.sync.clean_source.CleanMlflowSource`` wraps an MLflow source and cleans every
record it yields with these functions, so the rest of the sync sees only storable
text; reconcile builds its rows from those. S3 keys are checked apart, in the listing
(``catalog.sync.s3_source``): a key is stored verbatim or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

REPLACEMENT = "\ufffd"
# What marks a cut value: the mark, then the digest of the whole value.
CUT_MARK = "\u2026"
DIGEST_CHARS = 16
_CUT_TAIL_CHARS = len(CUT_MARK) + DIGEST_CHARS
_CUT_TAIL_BYTES = len(CUT_MARK.encode()) + DIGEST_CHARS

# Limits of the catalogue's columns (catalog/models/mirror.py), in characters unless said.
MLFLOW_ID_MAX_CHARS = 64  # experiment, run and logged model ids: varchar(64)
SHORT_MAX_CHARS = 32  # status, lifecycle stage, stage: varchar(32)
METRIC_KEY_MAX_CHARS = 250  # MetricPoint.key: varchar(250), MLflow's own limit
# Indexed names (experiment, run, registered model: text columns with a btree index).
# PostgreSQL's btree holds entries up to ~2,700 bytes; 2,000 bytes of UTF-8 leaves room
# for the row's other index columns and headers, and is eight times MLflow's SQL
# store's 256 characters (its REST API and file store take longer).
INDEXED_NAME_MAX_BYTES = 2000
# Any other text, and each string inside a JSON mapping: ten times the longest value
# MLflow accepts anywhere (100,000 characters, a registry tag value).
TEXT_MAX_CHARS = 1_000_000

Warn = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Limit:
    """How long a value may be: characters (varchar) or UTF-8 bytes (an index entry)."""

    max_chars: int | None = None
    max_bytes: int | None = None

    def fits(self, value: str) -> bool:
        length = len(value)
        if self.max_chars is not None and length > self.max_chars:
            return False
        if self.max_bytes is not None and length * 4 > self.max_bytes:
            # Only a value that could take more bytes than allowed is encoded.
            return length <= self.max_bytes and len(_utf8(value)) <= self.max_bytes
        return True


ID = Limit(max_chars=MLFLOW_ID_MAX_CHARS)
SHORT = Limit(max_chars=SHORT_MAX_CHARS)
METRIC_KEY = Limit(max_chars=METRIC_KEY_MAX_CHARS)
INDEXED_NAME = Limit(max_bytes=INDEXED_NAME_MAX_BYTES)
TEXT = Limit(max_chars=TEXT_MAX_CHARS)


def _utf8(value: str) -> bytes:
    # Lone surrogates are replaced before any value is measured for storage; here they
    # only need to be measurable.
    return value.encode("utf-8", "surrogatepass")


def has_unstorable(text: str) -> bool:
    """Whether ``text`` holds U+0000 or a lone surrogate (cheap for the clean case)."""
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _replace_unstorable(text: str) -> str:
    text = text.replace("\x00", REPLACEMENT)
    if text.isascii():
        return text
    return "".join(REPLACEMENT if "\ud800" <= char <= "\udfff" else char for char in text)


def storable_text(text: str) -> str:
    """``text`` with U+0000 and lone surrogates replaced, silently (for the sync's own text)."""
    return _replace_unstorable(text) if has_unstorable(text) else text


def value_digest(value: str) -> str:
    """The digest a cut value ends with: of the whole value as the source sent it."""
    return hashlib.blake2b(_utf8(value), digest_size=DIGEST_CHARS // 2).hexdigest()


def cut(value: str, limit: Limit) -> str:
    """``value`` shortened to ``limit``: its beginning, ``…`` and its digest."""
    digest = value_digest(value)
    head = value
    if limit.max_chars is not None:
        head = head[: limit.max_chars - _CUT_TAIL_CHARS]
    if limit.max_bytes is not None:
        # Cut on a character boundary: a partial character at the end is dropped.
        head = _utf8(head)[: limit.max_bytes - _CUT_TAIL_BYTES].decode("utf-8", "ignore")
    return f"{head}{CUT_MARK}{digest}"


def fit_text(value: str, limit: Limit, *, item: str, field: str, warn: Warn) -> str:
    """``value`` as it can be stored: unstorable characters replaced, cut to ``limit``.

    Warns once per change, naming ``item`` and ``field``. Pure in ``value``: the same
    input gives the same output on every sync and on both databases.
    """
    if not isinstance(value, str):
        return value
    cleaned = value
    if has_unstorable(value):
        cleaned = _replace_unstorable(value)
        warn(f"{item}: {field}: {_unstorable_reason(value)}; replaced by U+FFFD")
    if not limit.fits(cleaned):
        original = cleaned
        cleaned = cut(original, limit)
        warn(
            f"{item}: {field}: {len(original):,} characters, over the catalogue's limit "
            f"({_describe(limit)}); stored as its first {len(cleaned) - _CUT_TAIL_CHARS:,} "
            f"characters, then {CUT_MARK}{cleaned[-DIGEST_CHARS:]} (a digest of the whole)"
        )
    return cleaned


def _unstorable_reason(value: str) -> str:
    if "\x00" in value:
        return "contains NUL (U+0000)"
    return "contains a lone surrogate"


def _describe(limit: Limit) -> str:
    if limit.max_bytes is not None:
        return f"{limit.max_bytes:,} bytes of UTF-8"
    return f"{limit.max_chars:,} characters"


def fit_mapping(mapping: dict, *, item: str, field: str, warn: Warn) -> dict:
    """A JSON mapping's string keys and values fitted to ``TEXT``; the same dict if clean.

    Values that are not strings (an alias's version number) are kept as they are.
    """
    if not mapping:
        return mapping
    try:
        text = "".join(mapping) + "".join(mapping.values())
    except TypeError:
        text = None  # some value is not a string: look at each
    if text is not None and len(text) <= TEXT_MAX_CHARS and not has_unstorable(text):
        return mapping
    fitted = {}
    changed = False
    for key, value in mapping.items():
        new_key = fit_text(key, TEXT, item=item, field=f"{field} key {show_value(key)}", warn=warn)
        new_value = fit_text(value, TEXT, item=item, field=f"{field}[{show_value(key)}]", warn=warn)
        changed = changed or new_key is not key or new_value is not value
        fitted[new_key] = new_value
    return fitted if changed else mapping


def fit_json_text(text: str, *, item: str, field: str, warn: Warn) -> str:
    """A JSON document's text with unstorable characters in its strings replaced.

    For JSON made with ``json.dumps`` (ASCII escapes): PostgreSQL's jsonb refuses the
    escape of U+0000 and of a lone surrogate. Only a text holding ``\\u0000`` or a
    surrogate escape (``\\ud8..``-``\\udf..``, which also spells a valid pair) is
    parsed; the same text comes back when nothing had to change. One warning per text.
    """
    if "\\u0000" not in text and "\\ud" not in text:
        return text
    found: list[str] = []
    cleaned = _clean_json_value(json.loads(text), found)
    if not found:
        return text
    warn(f"{item}: {field}: {found[0]}; replaced by U+FFFD")
    return json.dumps(cleaned)


def _clean_json_value(value: Any, found: list[str]) -> Any:
    if isinstance(value, str):
        if has_unstorable(value):
            found.append(_unstorable_reason(value))
            return _replace_unstorable(value)
        return value
    if isinstance(value, list):
        return [_clean_json_value(element, found) for element in value]
    if isinstance(value, dict):
        return {
            _clean_json_value(key, found): _clean_json_value(element, found)
            for key, element in value.items()
        }
    return value


def show_value(text: str, limit: int = 80) -> str:
    """A value in a warning: escaped (no NUL or control character reaches a log), short."""
    shown = repr(text[:limit])
    return shown if len(text) <= limit else f"{shown}..."
