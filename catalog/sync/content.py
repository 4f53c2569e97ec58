"""What the sync reads inside small files: ``MLmodel`` and ``feature_names.txt``.

Contract 2 of the engineers' contracts: the results land in ``Artifact.meta``. Content
is read with a byte cap and parsed defensively (``yaml.safe_load``); anything odd
becomes ``{"kind": ..., "error": "<one line>"}``, never an exception.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_CONTENT_BYTES = 256 * 1024
MAX_FEATURES = 10_000
MLMODEL = "mlmodel"
FEATURE_NAMES = "feature_names"
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
    """The meta dict for ``data`` read from a file of ``kind`` (see the module doc)."""
    try:
        if kind == MLMODEL:
            if truncated:
                raise ValueError(f"MLmodel larger than {MAX_CONTENT_BYTES} bytes")
            return parse_mlmodel(data)
        return parse_feature_names(data)
    except (ValueError, TypeError, yaml.YAMLError, UnicodeDecodeError) as error:
        return {"kind": kind, "error": _one_line(error)}


def parse_mlmodel(data: bytes) -> dict[str, Any]:
    """Flavors, versions, signature and size from an ``MLmodel`` file's bytes."""
    # The same safe subset as yaml.safe_load, through libyaml when it is there (10x faster).
    document = yaml.load(data.decode("utf-8"), Loader=SAFE_LOADER)  # noqa: S506
    if not isinstance(document, dict):
        raise ValueError("MLmodel is not a YAML mapping")
    flavors = document.get("flavors") or {}
    if not isinstance(flavors, dict):
        raise ValueError("MLmodel flavors is not a mapping")
    pyfunc = flavors.get("python_function") or {}
    pyfunc = pyfunc if isinstance(pyfunc, dict) else {}
    return {
        "kind": MLMODEL,
        "flavors": sorted(str(name) for name in flavors),
        "loader_module": _text(pyfunc.get("loader_module")),
        "python_version": _text(pyfunc.get("python_version")),
        "mlflow_version": _text(document.get("mlflow_version")),
        "serialization_format": _serialization_format(flavors),
        "model_size_bytes": _integer(document.get("model_size_bytes")),
        "model_uuid": _text(document.get("model_uuid")),
        "run_id": _text(document.get("run_id")),
        "utc_time_created": _text(document.get("utc_time_created")),
        "signature": _signature(document.get("signature")),
    }


def parse_feature_names(data: bytes) -> dict[str, Any]:
    """One feature per non-empty line, at most ``MAX_FEATURES``."""
    features = []
    for line in data.decode("utf-8").splitlines():
        name = line.strip()
        if name:
            features.append(name)
            if len(features) >= MAX_FEATURES:
                break
    return {"kind": FEATURE_NAMES, "features": features}


def _serialization_format(flavors: dict) -> str | None:
    for flavor in flavors.values():
        if isinstance(flavor, dict) and flavor.get("serialization_format"):
            return _text(flavor["serialization_format"])
    return None


def _signature(signature: Any) -> dict[str, list] | None:
    if not isinstance(signature, dict):
        return None
    return {part: _columns(signature.get(part)) for part in ("inputs", "outputs", "params")}


def _columns(spec: Any) -> list[dict[str, Any]]:
    # MLflow stores each part as a JSON string inside the YAML.
    if isinstance(spec, str):
        spec = json.loads(spec)
    if spec is None:
        return []
    if not isinstance(spec, list):
        raise ValueError("signature part is not a list")
    columns = []
    for column in spec:
        if not isinstance(column, dict):
            raise ValueError("signature column is not a mapping")
        kind = column.get("type")
        if kind == "tensor" and isinstance(column.get("tensor-spec"), dict):
            kind = f"tensor<{column['tensor-spec'].get('dtype')}>"
        columns.append({"name": _text(column.get("name")), "type": str(kind)})
    return columns


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _integer(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:300]
