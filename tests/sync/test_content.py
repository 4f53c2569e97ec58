"""Parsing MLmodel and feature_names.txt: capped, defensive, never raising, in place or
in the spawned parse process."""

from __future__ import annotations

import json
from math import nan as NAN

import pytest

from catalog import model_files
from catalog.model_files import MAX_FEATURES, content_kind
from catalog.model_files import parse_model_file as parse_content
from catalog.sync.artifacts.content import ContentReader, RawContent, parse_batch, parse_raw
from catalog.sync.categories import infer_category
from tests.hostile_files import (
    CLEAN_MLMODEL,
    NOT_UTF8,
    alias_bomb_mlmodel,
    deep_json_mlmodel,
    huge_scalar_mlmodel,
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


POISONS = {
    "deep-json": deep_json_mlmodel(depth=5_000),
    "alias-bomb-7": alias_bomb_mlmodel(levels=7),
    "alias-bomb-9": alias_bomb_mlmodel(levels=9),
    "not-utf8": NOT_UTF8,
}


@pytest.mark.parametrize("name", sorted(POISONS))
def test_hostile_mlmodels_become_one_line_errors(name):
    meta = parse_content(kind="mlmodel", data=POISONS[name], truncated=False)
    assert set(meta) == {"kind", "error"}
    assert meta["error"] and "\n" not in meta["error"]
    assert len(json.dumps(meta)) < 500


def test_a_huge_scalar_is_kept_cut():
    meta = parse_content(kind="mlmodel", data=huge_scalar_mlmodel(), truncated=False)
    assert "error" not in meta
    assert len(meta["mlflow_version"]) == 300
    assert len(json.dumps(meta)) < 1_000


@pytest.mark.parametrize("failure", [RecursionError, MemoryError, KeyError, ZeroDivisionError])
def test_any_failure_of_a_parser_is_an_error_in_meta(monkeypatch, failure):
    def broken(data):
        raise failure("boom")

    monkeypatch.setattr(model_files, "parse_mlmodel", broken)
    meta = parse_content(kind="mlmodel", data=CLEAN_MLMODEL, truncated=False)
    assert meta["kind"] == "mlmodel" and meta["error"]
    read = parse_raw(RawContent(bucket="b", key="1/r/artifacts/model/MLmodel", kind="mlmodel"))
    assert read.warning.startswith("s3://b/1/r/artifacts/model/MLmodel: ")


def test_a_meta_json_cannot_hold_becomes_an_error(monkeypatch):
    # PostgreSQL's jsonb refuses NaN: such a meta is this file's error, not the batch's.
    monkeypatch.setattr(model_files, "parse_mlmodel", lambda data: {"kind": "mlmodel", "x": NAN})
    read = parse_raw(RawContent(bucket="b", key="k/MLmodel", kind="mlmodel", data=b"x"))
    assert read.meta["kind"] == "mlmodel" and "error" in read.meta
    assert read.warning.startswith("s3://b/k/MLmodel: ")


def _poison_raws() -> list[RawContent]:
    raws = [
        RawContent(bucket="b", key=f"{name}/MLmodel", kind="mlmodel", data=data)
        for name, data in sorted(POISONS.items())
    ]
    raws.append(RawContent(bucket="b", key="clean/MLmodel", kind="mlmodel", data=CLEAN_MLMODEL))
    raws.append(
        RawContent(bucket="b", key="bad/feature_names.txt", kind="feature_names", data=NOT_UTF8)
    )
    return raws


def _check_poison_reads(reads: list) -> None:
    *poisons, clean, features = reads
    for read, name in zip(poisons, sorted(POISONS), strict=True):
        assert read.warning.startswith(f"s3://b/{name}/MLmodel: ")
        assert set(read.meta) == {"kind", "error"}
        assert len(read.meta_json) < 500
    assert clean.warning == "" and clean.meta["mlflow_version"] == "2.16.0"
    assert features.warning.startswith("s3://b/bad/feature_names.txt: not UTF-8")


def test_poisons_in_a_batch_parsed_in_place():
    _check_poison_reads(parse_batch(_poison_raws()))


@pytest.mark.slow
def test_poisons_in_a_batch_parsed_in_the_spawned_parse_process():
    raws = _poison_raws()
    with ContentReader(s3=None, workers=1, process_min_batch=1) as reader:
        reads = reader.parse(raws).results()
        assert reader.batches_in_process == 1
        # The process survived its batch: a second one goes to it too.
        again = reader.parse(raws).results()
        assert reader.batches_in_process == 2 and reader._parser is not None
    _check_poison_reads(reads)
    assert again == reads
