"""What the sync reads inside small files: ``MLmodel`` and ``feature_names.txt``.

The results land in ``Artifact.meta``. The parsing itself, and its bounds on bytes,
depth, aliases and output, is ``catalog.model_files``' (shared with the file page);
this module picks the parser by file name and turns any failure of one file, whatever
its kind (``RecursionError`` and ``MemoryError`` included), into
``{"kind": ..., "error": "<one line>"}``: a warning on that file, never a failed sync.
"""

from __future__ import annotations

from typing import Any

from catalog import model_files

MAX_CONTENT_BYTES = model_files.MAX_FILE_BYTES
MAX_FEATURES = model_files.MAX_FEATURES
MLMODEL = model_files.MLMODEL
FEATURE_NAMES = model_files.FEATURE_NAMES
# The file names content_kind() reads; a key ending otherwise is never read.
CONTENT_FILE_NAMES = ("MLmodel", "feature_names.txt")


def content_kind(key: str) -> str | None:
    """Which parser a key's last segment calls for, or None for "don't read it"."""
    name = key.rpartition("/")[2]
    if name == "MLmodel":
        return MLMODEL
    if name == "feature_names.txt":
        return FEATURE_NAMES
    return None


def parse_content(*, kind: str, data: bytes, truncated: bool) -> dict[str, Any]:
    """The meta dict for ``data`` read from a file of ``kind`` (see the module doc).

    ``truncated``: the file is larger than what was read. An MLmodel cut short is an
    error (half a YAML document means nothing); a feature list keeps its first lines.
    """
    try:
        if kind == MLMODEL:
            if truncated:
                raise model_files.ModelFileError(f"MLmodel larger than {MAX_CONTENT_BYTES} bytes")
            return model_files.parse_mlmodel(data)
        if truncated:
            data = _whole_lines(data)
        return {"kind": FEATURE_NAMES, "features": model_files.parse_feature_names(data)}
    except Exception as error:  # noqa: BLE001 - one file's failure, of any kind, is its warning
        return {"kind": kind, "error": model_files.error_line(error)}


def _whole_lines(data: bytes) -> bytes:
    # A read cut at the byte cap may end inside a line (or a UTF-8 sequence): drop it.
    cut = data.rfind(b"\n")
    return data[: cut + 1] if cut >= 0 else data
