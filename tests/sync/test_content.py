"""Parsing MLmodel and feature_names.txt: capped, defensive, never raising."""

from __future__ import annotations

from catalog.sync.categories import infer_category
from catalog.sync.content import (
    MAX_FEATURES,
    content_kind,
    parse_content,
)

MLMODEL = b"""
artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    python_version: 3.11.7
  sklearn:
    serialization_format: cloudpickle
    sklearn_version: 1.5.0
mlflow_version: 2.16.0
model_size_bytes: 4567
model_uuid: abc
run_id: 64535d709de2458396986ff9f939517a
utc_time_created: '2025-09-16 10:00:00.000000'
signature:
  inputs: '[{"type": "double", "name": "temperature", "required": true},
    {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 3]}}]'
  outputs: '[{"type": "long", "required": true}]'
  params: null
"""


def test_kinds_by_last_segment():
    assert content_kind("1/r/artifacts/model/MLmodel") == "mlmodel"
    assert content_kind("MLmodel") == "mlmodel"
    assert content_kind("1/r/artifacts/MLmodel.bak") is None
    assert content_kind("1/r/artifacts/feature_names.txt") == "feature_names"
    assert content_kind("1/r/artifacts/x/feature_names.txt.gz") is None


def test_mlmodel_fields():
    meta = parse_content(kind="mlmodel", data=MLMODEL, truncated=False)
    assert meta == {
        "kind": "mlmodel",
        "flavors": ["python_function", "sklearn"],
        "loader_module": "mlflow.sklearn",
        "python_version": "3.11.7",
        "mlflow_version": "2.16.0",
        "serialization_format": "cloudpickle",
        "model_size_bytes": 4567,
        "model_uuid": "abc",
        "run_id": "64535d709de2458396986ff9f939517a",
        "utc_time_created": "2025-09-16 10:00:00.000000",
        "signature": {
            "inputs": [
                {"name": "temperature", "type": "double"},
                {"name": None, "type": "tensor<float32>"},
            ],
            "outputs": [{"name": None, "type": "long"}],
            "params": [],
        },
    }


def test_bad_mlmodels_become_one_line_errors():
    for data in [b"flavors: [unclosed", b"- a list", b"\xff\xfe not utf-8", b"flavors: 3"]:
        meta = parse_content(kind="mlmodel", data=data, truncated=False)
        assert meta["kind"] == "mlmodel"
        assert meta["error"] and "\n" not in meta["error"]
    # Python objects are not constructed: safe loading only.
    meta = parse_content(
        kind="mlmodel", data=b"flavors: !!python/object/apply:os.system ['true']", truncated=False
    )
    assert "error" in meta
    truncated = parse_content(kind="mlmodel", data=MLMODEL, truncated=True)
    assert "larger than" in truncated["error"]
    bad_signature = parse_content(
        kind="mlmodel", data=b"flavors: {}\nsignature:\n  inputs: 'not json'", truncated=False
    )
    assert "error" in bad_signature


def test_feature_names_are_capped():
    data = "\n".join(f"f{i}" for i in range(MAX_FEATURES + 50)).encode()
    meta = parse_content(kind="feature_names", data=data, truncated=True)
    assert len(meta["features"]) == MAX_FEATURES
    assert parse_content(kind="feature_names", data=b"\xff", truncated=False)["error"]


def test_categories():
    assert infer_category(name="x", tags={"category": "Forecasting"}) == "forecasting"
    assert infer_category(name="x", tags={"task": "anomaly detection"}) == "anomaly_detection"
    assert infer_category(name="x", tags={}, version_tags={"task": "classification"}) == (
        "classification"
    )
    assert infer_category(name="sales_model", tags={}, flavors=["prophet"]) == "forecasting"
    assert infer_category(name="vibration_autoencoder", tags={}) == "anomaly_detection"
    assert infer_category(name="MIMII_Audio_Scaler", tags={}) == "preprocessing"
    assert infer_category(name="mystery", tags={"category": "???"}) == "other"
