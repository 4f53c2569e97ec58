"""Every mirrored text fits, on both databases: long names, NUL, unstorable S3 keys.

End to end on a real MLflow tracking store (sqlite, which takes what PostgreSQL does
not) and moto's S3; unit tests feed reconcile in-memory sources for what a real store
refuses to hold (over-long ids and metric keys, lone surrogates).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import (
    Artifact,
    Experiment,
    ListingRange,
    LoggedModel,
    MetricPoint,
    ModelVersion,
    RegisteredModel,
    Run,
)
from catalog.sync.artifacts.ranges import load_ranges, rows_agree
from catalog.sync.clean_source import CleanMlflowSource
from catalog.sync.layout import can_hold_keys, parse_s3_uri
from catalog.sync.records import (
    ArtifactRecord,
    ExperimentRecord,
    MetricRecord,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunRecord,
    S3Root,
)
from catalog.sync.s3_source import S3Source, UnstorableKey
from catalog.sync.service import SyncOptions, run_sync
from catalog.sync.text_limits import (
    INDEXED_NAME,
    INDEXED_NAME_MAX_BYTES,
    METRIC_KEY_MAX_CHARS,
    MLFLOW_ID_MAX_CHARS,
    fit_json_text,
    fit_text,
)
from tests.sync.conftest import World
from tests.sync.test_incremental import catalogue_writes

BUCKET = "text-limits-world"
LONG_RUN_NAME = "r" * 599 + "é"
LONG_MODEL_NAME = "M" * 600
# Two names longer than an index entry may be, alike for their first 3,000 characters.
HUGE_NAMES = ("L" * 3000 + "-one", "L" * 3000 + "-two")
NUL_KEY_PATH = "bad\x00name.txt"
LONG_KEY_PATH = "k" * 1100
MODIFIED = datetime(2026, 1, 1, tzinfo=UTC)


# --- the world ------------------------------------------------------------------------


def build_poison_world(*, base, endpoint, templates) -> tuple[World, dict[str, str]]:
    """One experiment whose MLflow and S3 hold one of each poison beside clean items."""
    import boto3
    from mlflow import MlflowClient

    base.mkdir(parents=True, exist_ok=True)
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=BUCKET)
    db_path = base / "mlflow.db"
    uri = templates.new_store(db_path)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    world = World(tracking_uri=uri, db_path=db_path, bucket=BUCKET, endpoint=endpoint)
    experiment_id = client.create_experiment("Poisoned", artifact_location=f"s3://{BUCKET}/1")
    world.experiment_ids["poisoned"] = experiment_id

    poisoned = client.create_run(experiment_id, run_name=LONG_RUN_NAME).info.run_id
    client.log_param(poisoned, "alpha", "a\x00b")
    client.log_param(poisoned, "clean", "1")
    client.set_tag(poisoned, "mlflow.note.content", "notes\x00here")
    client.log_metric(poisoned, "loss", 0.5)
    client.set_terminated(poisoned)
    clean = client.create_run(experiment_id, run_name="clean-run").info.run_id
    client.set_terminated(clean)
    world.run_ids.update(poisoned=poisoned, clean=clean)

    client.create_registered_model(LONG_MODEL_NAME, description="desc\x00ription")
    client.create_model_version(LONG_MODEL_NAME, source=f"runs:/{poisoned}/model", run_id=poisoned)
    for name in HUGE_NAMES:
        client.create_registered_model(name)
    world.model_names.extend([LONG_MODEL_NAME, *HUGE_NAMES])
    logged = client.create_logged_model(experiment_id, name="poison-lm", source_run_id=clean)
    world.logged_model_ids["lm"] = logged.model_id

    keys = {
        "model": f"1/{poisoned}/artifacts/model/model.pkl",
        "features": f"1/{poisoned}/artifacts/feature_names.txt",
        "nul": f"1/{poisoned}/artifacts/{NUL_KEY_PATH}",
        "long": f"1/{clean}/artifacts/{LONG_KEY_PATH}",
        "clean": f"1/{clean}/artifacts/plots/a.png",
    }
    bodies = {"features": b"temp\x00erature\nrpm\n"}
    for label, key in keys.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=bodies.get(label, b"x"))
    world.object_count = len(keys)
    return world, keys


@pytest.fixture(scope="module")
def poison_world(moto_endpoint, world_dir, mlflow_templates):
    return build_poison_world(
        base=world_dir / "poison", endpoint=moto_endpoint, templates=mlflow_templates
    )


# The warnings the world's first sync gives: one per poison, each naming its item.
def expected_warnings(world: World, keys: dict[str, str]) -> list[str]:
    poisoned = world.run_ids["poisoned"]
    nul_key = keys["nul"].replace("\x00", "\\x00")
    long_key_bytes = len(keys["long"].encode())
    return [
        f"run '{poisoned}': params['alpha']: contains NUL",
        f"run '{poisoned}': tags['mlflow.note.content']: contains NUL",
        f"s3://{BUCKET}/{nul_key}: key cannot be stored: contains NUL",
        f"s3://{BUCKET}/{keys['long'][:200]}...: key cannot be stored: {long_key_bytes:,} bytes",
        f"registered model '{LONG_MODEL_NAME[:80]}'...: description: contains NUL",
        f"registered model '{HUGE_NAMES[0][:80]}'...: name: 3,004 characters",
        f"registered model '{HUGE_NAMES[1][:80]}'...: name: 3,004 characters",
    ]


def assert_warned(warnings: list[str], expected: list[str]) -> None:
    # MLflow's own "Default" experiment lives on local disk, not on S3.
    warnings = [warning for warning in warnings if not warning.startswith("experiment 0: ")]
    assert len(warnings) == len(expected), warnings
    for start in expected:
        matching = sum(warning.startswith(start) for warning in warnings)
        assert matching == expected.count(start), (start, warnings)


# --- end to end -----------------------------------------------------------------------


@pytest.mark.slow
def test_poisoned_world_syncs_ok_and_a_second_sync_writes_nothing(poison_world, sync_world):
    world, keys = poison_world
    first = sync_world(world)
    assert first.status == "ok", first.all_warnings()
    assert_warned(first.all_warnings(), expected_warnings(world, keys))

    run = Run.objects.get(run_id=world.run_ids["poisoned"])
    assert run.name == LONG_RUN_NAME
    assert run.params == {"alpha": "a\ufffdb", "clean": "1"}
    assert run.tags["mlflow.note.content"] == "notes\ufffdhere"
    assert Run.objects.get(run_id=world.run_ids["clean"]).name == "clean-run"
    assert MetricPoint.objects.filter(run=run, key="loss").count() == 1

    model = RegisteredModel.objects.get(name=LONG_MODEL_NAME)
    assert model.mlflow_description == "desc\ufffdription"
    assert ModelVersion.objects.get(registered_model=model, version=1).run_id == run.pk
    huge = sorted(
        RegisteredModel.objects.filter(name__startswith="L" * 100).values_list("name", flat=True)
    )
    assert len(huge) == 2 and huge[0] != huge[1]
    for name in huge:
        assert len(name.encode()) <= INDEXED_NAME_MAX_BYTES
        assert name.startswith("L" * 1900)
        assert "\u2026" in name
    assert LoggedModel.objects.filter(model_id=world.logged_model_ids["lm"]).exists()

    stored = set(Artifact.objects.filter(bucket=BUCKET).values_list("key", flat=True))
    assert stored == {keys["model"], keys["features"], keys["clean"]}
    # The parsers keep only storable text in what they summarise (catalog/model_files.py):
    # the file itself is untouched, so this is no warning.
    features = Artifact.objects.get(bucket=BUCKET, key=keys["features"])
    assert features.meta["features"] == ["temp\ufffderature", "rpm"]

    with CaptureQueriesContext(connection) as captured:
        second = sync_world(world)
    assert second.status == "ok", second.all_warnings()
    assert_warned(second.all_warnings(), expected_warnings(world, keys))
    for entity, counts in second.as_dict()["counts"].items():
        assert counts["created"] == counts["updated"] == 0, entity
        assert counts["missing"] == counts["restored"] == 0, entity
    assert catalogue_writes(captured.captured_queries) == []
    # The skipped keys are in neither the ranges nor the rows: they keep agreeing.
    ranges = load_ranges(bucket=BUCKET, walk_prefix="")
    assert sum(key_range.rows for key_range in ranges) == len(stored)
    assert rows_agree(bucket=BUCKET, walk_prefix="", ranges=ranges)
    assert ListingRange.objects.filter(bucket=BUCKET).exists()


@pytest.mark.slow
def test_curated_fields_survive_a_resync_that_rewrites_each_row(poison_world, sync_world):
    from mlflow import MlflowClient

    world, _ = poison_world
    assert sync_world(world).status == "ok"
    curated = {
        Experiment: (
            {"experiment_id": world.experiment_ids["poisoned"]},
            {
                "description": "Exp purpose",
                "notes": "exp notes",
                "related_links": "Doc https://wiki.example/doc",
                "specialized_domain": "Vibration Analysis",
            },
        ),
        Run: (
            {"run_id": world.run_ids["poisoned"]},
            {"description": "Run purpose", "notes": "run notes"},
        ),
        RegisteredModel: (
            {"name": LONG_MODEL_NAME},
            {
                "description": "Model purpose",
                "category_override": "forecasting",
                "notes": "n",
                "release_label": "V1.0 Production",
            },
        ),
        LoggedModel: (
            {"model_id": world.logged_model_ids["lm"]},
            {"description": "LM purpose", "notes": "lm notes"},
        ),
        ModelVersion: ({"registered_model__name": LONG_MODEL_NAME, "version": 1}, {"notes": "v"}),
    }
    for model, (lookup, values) in curated.items():
        assert set(values) == set(model.CURATED_FIELDS), model
        assert model.objects.filter(**lookup).update(**values) == 1

    snapshot = world.snapshot()
    try:
        client = MlflowClient(tracking_uri=world.tracking_uri, registry_uri=world.tracking_uri)
        client.set_experiment_tag(world.experiment_ids["poisoned"], "changed", "yes")
        client.set_tag(world.run_ids["poisoned"], "changed", "yes\x00too")
        client.set_registered_model_tag(LONG_MODEL_NAME, "changed", "yes")
        client.set_model_version_tag(LONG_MODEL_NAME, "1", "changed", "yes")
        client.set_logged_model_tags(world.logged_model_ids["lm"], {"changed": "yes"})
        report = sync_world(world)
        assert report.status == "ok", report.all_warnings()
        for entity in ("experiments", "runs", "registered_models", "model_versions"):
            assert report.counts[entity].updated == 1, entity
        assert report.counts["logged_models"].updated == 1
        for model, (lookup, values) in curated.items():
            row = model.objects.get(**lookup)
            assert {field: getattr(row, field) for field in values} == values, model
            assert row.tags.get("changed", "").startswith("yes"), model
    finally:
        world.restore(snapshot)


# --- in-memory sources: what a real store will not hold --------------------------------


class HostileMlflow:
    """Records a validating MLflow would refuse, from a server that did not validate."""

    RUN_ID = "r" * 80
    METRIC_KEY = "m" * 300

    def __init__(self) -> None:
        self.history_asked: list[tuple[str, str]] = []

    def iter_experiments(self):
        yield ExperimentRecord(
            experiment_id="1",
            name="exp\ud800",
            artifact_location="s3://b/1",
            tags={"k\x00": "v"},
        )

    def iter_runs(self, *, experiment_ids):
        yield RunRecord(
            run_id=self.RUN_ID,
            experiment_id="1",
            name="n",
            status="FINISHED" * 10,
            user_id="u" * 2000,
            artifact_uri=f"s3://b/1/{self.RUN_ID}/artifacts",
            metrics=(MetricRecord(key=self.METRIC_KEY, value=1.0, step=1, timestamp=5),),
        )

    def metric_histories(self, *, run_ids, key):
        # Asked by the values MLflow knows, not the fitted ones.
        self.history_asked.extend((run_id, key) for run_id in run_ids)
        assert (list(run_ids), key) == ([self.RUN_ID], self.METRIC_KEY)
        return {self.RUN_ID: [MetricRecord(key=key, value=1.0, step=1, timestamp=5)]}

    def iter_logged_models(self, *, experiment_ids):
        return iter(())

    def iter_registered_models(self):
        # Two names that one replacement makes the same, and one over the index limit
        # in four-byte characters.
        yield RegisteredModelRecord(name="twin\x00", aliases={"prod\x00": 1})
        yield RegisteredModelRecord(name="twin\ufffd")
        yield RegisteredModelRecord(name="\U0001f600" * 600)

    def iter_model_versions(self):
        yield ModelVersionRecord(model_name="twin\x00", version=1, source="s3://" + "b" * 70 + "/k")
        yield ModelVersionRecord(model_name="twin\ufffd", version=1)


class OneKeyS3:
    def iter_root(self, *, root):
        yield ArtifactRecord(
            bucket="b", key=f"1/{HostileMlflow.RUN_ID}/artifacts/a.txt", size=1, etag="e",
            last_modified=MODIFIED,
        )  # fmt: skip

    def read_head(self, *, bucket, key, max_bytes):
        raise AssertionError("no content to read here")


def sync(mlflow, s3):
    return run_sync(mlflow_source=mlflow, s3_source=s3, options=SyncOptions(read_workers=1))


@pytest.mark.django_db
def test_hostile_ids_names_and_keys_are_fitted_consistently():
    mlflow = HostileMlflow()
    first = sync(mlflow, OneKeyS3())
    assert first.status == "ok", first.all_warnings()

    experiment = Experiment.objects.get(experiment_id="1")
    assert experiment.name == "exp\ufffd"
    assert experiment.tags == {"k\ufffd": "v"}
    run = Run.objects.get()
    assert len(run.run_id) == MLFLOW_ID_MAX_CHARS and run.run_id.startswith("r" * 40)
    assert len(run.status) == 32 and run.user_id == "u" * 2000
    (fitted_key,) = run.metrics
    assert len(fitted_key) == METRIC_KEY_MAX_CHARS
    assert list(MetricPoint.objects.values_list("key", flat=True)) == [fitted_key]
    assert mlflow.history_asked == [(HostileMlflow.RUN_ID, HostileMlflow.METRIC_KEY)]
    # The artifact's owner is found by the fitted run's artifact URI.
    assert Artifact.objects.get().run_id == run.pk

    names = sorted(RegisteredModel.objects.values_list("name", flat=True))
    assert names[0] == "twin\ufffd"
    assert len(names[1].encode()) <= INDEXED_NAME_MAX_BYTES
    assert RegisteredModel.objects.get(name="twin\ufffd").aliases == {"prod\ufffd": 1}
    version = ModelVersion.objects.get()
    assert version.aliases == ["prod\ufffd"]
    assert version.artifact_bucket == "" and version.artifacts_present is None
    warnings = first.all_warnings()
    assert sum("listed twice" in warning for warning in warnings) == 2, warnings
    assert any(warning.startswith("experiment '1': name: contains a lone") for warning in warnings)

    with CaptureQueriesContext(connection) as captured:
        second = sync(HostileMlflow(), OneKeyS3())
    assert second.status == "ok"
    assert catalogue_writes(captured.captured_queries) == []
    assert all(counts.created == counts.updated == 0 for counts in second.counts.values())


# --- the pieces -----------------------------------------------------------------------


def test_fit_text_is_pure_and_keeps_long_values_apart():
    warnings: list[str] = []
    one, two = (
        fit_text(name, INDEXED_NAME, item="m", field="name", warn=warnings.append)
        for name in HUGE_NAMES
    )
    assert one != two
    assert one == fit_text(HUGE_NAMES[0], INDEXED_NAME, item="m", field="name", warn=print)
    # Already fitted: it fits, and stays as it is.
    assert fit_text(one, INDEXED_NAME, item="m", field="name", warn=warnings.append) is one
    assert len(warnings) == 2 and "3,004 characters" in warnings[0]
    # Four-byte characters are cut on a character boundary, under the byte limit.
    emoji = fit_text("\U0001f600" * 600, INDEXED_NAME, item="m", field="name", warn=print)
    assert len(emoji.encode()) <= INDEXED_NAME_MAX_BYTES
    assert emoji.startswith("\U0001f600" * 400)
    clean = "x" * 600
    assert fit_text(clean, INDEXED_NAME, item="m", field="name", warn=warnings.append) is clean


def test_a_clean_record_comes_back_as_it_was():
    record = RunRecord(run_id="a" * 32, experiment_id="1", name="é" * 500, params={"p": "v"})
    source = type("One", (), {"iter_runs": lambda self, experiment_ids: iter([record])})()
    warnings: list[str] = []
    (same,) = CleanMlflowSource(source, warn=warnings.append).iter_runs(experiment_ids=["1"])
    assert same is record and warnings == []


def test_fit_json_text_replaces_nul_and_lone_surrogates_only():
    warnings: list[str] = []
    pair = '{"a": "\\ud83d\\ude00"}'  # a valid pair: an emoji
    assert fit_json_text(pair, item="i", field="f", warn=warnings.append) is pair
    assert (
        fit_json_text('{"a\\u0000": ["\\ud800"]}', item="i", field="f", warn=warnings.append)
        == '{"a\\ufffd": ["\\ufffd"]}'
    )
    assert warnings == ["i: f: contains NUL (U+0000); replaced by U+FFFD"]


def test_s3_source_skips_keys_the_catalogue_cannot_store():
    class OnePage:
        def get_paginator(self, name):
            return self

        def paginate(self, **kwargs):
            return [
                {
                    "Contents": [
                        {"Key": "1/a%00b", "Size": 1, "ETag": '"e"'},
                        {"Key": "1/" + "%C3%A9" * 512, "Size": 1, "ETag": '"e"'},
                        {"Key": "1/" + "k" * 1022, "Size": 1, "ETag": '"e"'},
                    ]
                }
            ]

    source = S3Source(client=OnePage(), prefetch_pages=0)
    nul, long, fits = source.iter_root(root=S3Root(bucket="b", prefix="1/"))
    assert nul == UnstorableKey(bucket="b", key="1/a\x00b", reason="contains NUL")
    assert nul.warning == "s3://b/1/a\\x00b: key cannot be stored: contains NUL; skipped"
    assert isinstance(long, UnstorableKey) and "1,026 bytes" in long.warning
    assert isinstance(fits, ArtifactRecord) and len(fits.key) == 1024


def test_s3_locations_that_no_bucket_or_key_can_be():
    assert parse_s3_uri("s3://" + "b" * 63 + "/k") == ("b" * 63, "k")
    assert parse_s3_uri("s3://" + "b" * 64 + "/k") is None
    assert can_hold_keys("k" * 1023) and not can_hold_keys("k" * 1024)
    assert not can_hold_keys("é" * 512) and can_hold_keys("é" * 511)


class FarAwayMlflow(HostileMlflow):
    """An experiment whose artifact location no S3 key can lie under."""

    def iter_experiments(self):
        yield ExperimentRecord(
            experiment_id="1", name="far", artifact_location="s3://b/" + "d" * 1100 + "/1"
        )

    def iter_runs(self, *, experiment_ids):
        return iter(())

    def iter_registered_models(self):
        return iter(())

    def iter_model_versions(self):
        return iter(())


class NoListing:
    def iter_root(self, *, root):
        raise AssertionError(f"{root.uri} should not be listed")


@pytest.mark.django_db
def test_a_walk_prefix_no_key_can_extend_is_not_walked():
    report = sync(FarAwayMlflow(), NoListing())
    assert report.status == "ok"
    assert any("no S3 key (1,024 bytes at most) extends; not walked" in w for w in report.warnings)
    assert not ListingRange.objects.exists()


def test_report_warnings_are_storable_text():
    from catalog.sync.report import SyncReport

    report = SyncReport()
    report.warn("MLflow said: bad value 'a\x00b\ud800'")
    assert report.warnings == ["MLflow said: bad value 'a\ufffdb\ufffd'"]
