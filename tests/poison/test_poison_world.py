"""No single item can stop the mirror or a page: the poison worlds, synced and browsed.

Each poison of ``tests/poison/world.py`` must end as a warning on its own item (or be
stored faithfully), never as a failed sync or a page that answers 500; the clean items
beside the poisons are mirrored in full. The full world has every poison at once; each
poison is also synced and browsed alone beside the clean items, so a failure names it.
"""

from __future__ import annotations

import math
import signal
from contextlib import contextmanager
from html.parser import HTMLParser
from urllib.parse import unquote, urlencode, urljoin, urlsplit, urlunsplit

import pytest
from django.db import transaction
from django.urls import Resolver404, resolve, reverse

from catalog.models import Artifact, Experiment, MetricPoint, ModelVersion, RegisteredModel, Run
from tests.pages.test_mapping import FENCE, rendered_as_wiki
from tests.poison.world import (
    CLEAN_EXPERIMENT,
    CLEAN_MODEL,
    HTML_EXPERIMENT,
    HTML_MODEL,
    HTML_RUN,
    LONG_MODEL_NAME,
    LONG_RUN_NAME,
    NOTE_CONTENT,
    NUL_PARAM_VALUE,
    ODD_IMAGE_PATH,
    ODD_TEXT_PATH,
    POISONS,
    TRAVERSAL_MODEL,
    PoisonWorld,
)

pytestmark = pytest.mark.slow

MAX_PAGE_BYTES = 2 * 1024 * 1024
MAX_TABLE_ROWS = 500
PAGE_HANG_GUARD_S = 20


# --- helpers -------------------------------------------------------------------------


class _Links(HTMLParser):
    """Every ``<a href>`` of a page with its text (attribute values come unescaped)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._open: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._open.append([dict(attrs).get("href") or "", ""])

    def handle_data(self, data):
        for link in self._open:
            link[1] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._open:
            href, text = self._open.pop()
            self.links.append((href, " ".join(text.split())))


def links_of(html: str) -> list[tuple[str, str]]:
    parser = _Links()
    parser.feed(html)
    return parser.links


_DOT_SEGMENTS = {".", "%2e"}
_DOUBLE_DOT_SEGMENTS = {"..", ".%2e", "%2e.", "%2e%2e"}


def browser_path(*, base: str, href: str) -> str:
    """The path and query a browser requests for ``href`` clicked on ``base``.

    ``urljoin`` resolves the reference (and drops the fragment); dot segments are then
    removed the way the WHATWG URL standard does it, where ``%2e`` counts as a dot.
    """
    parts = urlsplit(urljoin(f"http://testserver{base}", href))
    output: list[str] = []
    segments = parts.path.split("/")[1:]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment.lower() in _DOUBLE_DOT_SEGMENTS:
            if output:
                output.pop()
            if last:
                output.append("")
        elif segment.lower() in _DOT_SEGMENTS:
            if last:
                output.append("")
        else:
            output.append(segment)
    return urlunsplit(("", "", "/" + "/".join(output), parts.query, ""))


def resolve_browser_path(path: str):
    """Django's match for a browser-requested path (the server unquotes it first)."""
    return resolve(unquote(urlsplit(path).path))


def body_of(response) -> bytes:
    """The response's bytes; a streamed body is read once and kept on the response."""
    if getattr(response, "streaming", False):
        if not hasattr(response, "read_body"):
            response.read_body = b"".join(response.streaming_content)
        return response.read_body
    return response.content


class PageHung(Exception):
    """A request ran past ``PAGE_HANG_GUARD_S``."""


@contextmanager
def hang_guard(seconds: float):
    """Raise ``PageHung`` in the request still running after ``seconds`` (main thread).

    Not a speed target (those live in benchmarks/): a page that takes minutes over one
    poisoned item would otherwise stall the suite; it fails here, named.
    """

    def interrupt(signum, frame):
        raise PageHung(f"still running after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def fetch(client, url: str) -> tuple[object, str]:
    """GET ``url``: (response, "") or (None, the exception it raised), in a savepoint.

    The savepoint keeps a failed query on PostgreSQL from aborting the test's
    transaction for the requests after it.
    """
    try:
        with hang_guard(PAGE_HANG_GUARD_S), transaction.atomic():
            response = client.get(url)
            body_of(response)  # a streamed body is produced here, under the guard
            return response, ""
    except Exception as error:  # noqa: BLE001 - reported with the URL below
        return None, f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"


def check_pages(client, urls: list[str]) -> list[str]:
    """The failures among ``urls``: an exception, a status >= 500 or a body over the bound."""
    failures = []
    for url in urls:
        response, error = fetch(client, url)
        if error:
            failures.append(f"{url[:160]!r}: {error}")
            continue
        size = len(body_of(response))
        if response.status_code >= 500 or size > MAX_PAGE_BYTES:
            failures.append(f"{url[:160]!r}: status {response.status_code}, {size} bytes")
    return failures


def assert_ok(code: int, summary: dict) -> None:
    """The sync ended ``ok`` with exit code 0 (its error and warnings shown if not)."""
    assert (code, summary["status"]) == (0, "ok"), (
        f"sync {summary['status']} (exit {code}): {summary.get('error')!r}; "
        f"warnings: {summary.get('warnings')}; stderr: {summary.get('stderr')!r}"
    )


def warnings_naming(summary: dict, fragment: str) -> list[str]:
    return [warning for warning in summary["warnings"] if fragment in warning]


def _query(**params: str) -> str:
    return urlencode(params)


def page_urls() -> list[str]:
    """Every page, chart, thumbnail and download of the synced world, from the database."""
    urls = [
        reverse("catalog:home"),
        reverse("catalog:experiment_list"),
        reverse("catalog:model_list"),
        reverse("catalog:category_list"),
        reverse("catalog:metrics"),
        reverse("catalog:audit"),
        reverse("catalog:mapping_export"),
        reverse("catalog:chart_leaderboard") + "?metric=accuracy",
    ]
    queries = (HTML_EXPERIMENT, HTML_MODEL, HTML_RUN, LONG_RUN_NAME, TRAVERSAL_MODEL, "bad", "[[[")
    urls += [reverse("catalog:search") + "?" + _query(q=query) for query in queries]
    for experiment in Experiment.objects.all():
        urls.append(experiment.get_absolute_url())
        metrics = set()
        for run in Run.objects.filter(experiment=experiment):
            metrics |= set(run.metrics or {})
        for metric in sorted(metrics) or ["accuracy"]:
            chart = reverse("catalog:chart_experiment_runs", args=[experiment.experiment_id])
            urls.append(chart + "?" + _query(metric=metric))
    for run in Run.objects.all():
        urls.append(run.get_absolute_url())
        urls.append(reverse("catalog:run_artifacts", args=[run.run_id]))
        keys = set(run.metrics or {})
        keys |= set(MetricPoint.objects.filter(run=run).values_list("key", flat=True))
        for metric in sorted(keys):
            chart = reverse("catalog:chart_run_history", args=[run.run_id])
            urls.append(chart + "?" + _query(metric=metric))
    for artifact in Artifact.objects.filter(run__isnull=False).select_related("run"):
        run_id, path = artifact.run.run_id, artifact.path
        urls.append(artifact.get_absolute_url())
        urls.append(reverse("catalog:run_artifact_raw", args=[run_id, path]))
        if path.endswith((".png", ".pdf")):
            thumbnail = reverse("catalog:run_artifact_thumbnail", args=[run_id, path])
            urls += [thumbnail + "?size=small", thumbnail + "?size=large"]
        if artifact.folder:
            urls.append(reverse("catalog:run_artifact", args=[run_id, artifact.folder + "/"]))
    for model in RegisteredModel.objects.all():
        urls.append(model.get_absolute_url())
        chart = reverse("catalog:chart_model_versions", args=[model.name])
        urls.append(chart + "?metric=accuracy")
    for version in ModelVersion.objects.select_related("registered_model"):
        urls.append(version.get_absolute_url())
    return list(dict.fromkeys(urls))


def assert_pages_answer(client, world: PoisonWorld) -> None:
    """Every page of the synced world answers below 500 and within the size bound."""
    urls = page_urls()
    for label, run_id in world.run_ids.items():
        assert any(run_id in url for url in urls), f"run {label!r} has no page"
    failures = check_pages(client, urls)
    assert not failures, f"{len(failures)} of {len(urls)} pages failed:\n" + "\n".join(failures)


def assert_clean_items_mirrored(world: PoisonWorld) -> None:
    """The clean experiment, run (params, metrics, history), artifacts and model version."""
    clean = Experiment.objects.get(experiment_id=world.experiment_ids["clean"])
    assert clean.name == CLEAN_EXPERIMENT
    run = Run.objects.get(run_id=world.run_ids["clean"])
    assert (run.experiment, run.name, run.status) == (clean, "clean-run", "FINISHED")
    assert run.params == {"n_estimators": "100"}
    assert run.metrics == {"accuracy": pytest.approx(0.9)}
    steps = MetricPoint.objects.filter(run=run, key="accuracy").order_by("step")
    assert list(steps.values_list("step", "value")) == [
        (0, pytest.approx(0.81)),
        (1, pytest.approx(0.86)),
        (2, pytest.approx(0.9)),
    ]
    keys = set(Artifact.objects.filter(run=run, missing_since=None).values_list("key", flat=True))
    assert set(world.clean_keys) <= keys, set(world.clean_keys) - keys
    mlmodel = Artifact.objects.get(key=world.run_key("clean", "model/MLmodel"))
    assert "error" not in mlmodel.meta, mlmodel.meta
    assert "sklearn" in mlmodel.meta["flavors"]
    assert mlmodel.meta["signature"]["inputs"], mlmodel.meta
    features = Artifact.objects.get(key=world.run_key("clean", "feature_names.txt"))
    assert features.meta["features"] == ["temperature", "vibration_rms", "pressure"]
    version = ModelVersion.objects.get(registered_model__name=CLEAN_MODEL, version=1)
    assert version.run == run and version.artifacts_present


def _mirrored_run(world: PoisonWorld, label: str) -> Run:
    run = Run.objects.filter(run_id=world.run_ids[label]).first()
    assert run is not None, f"the run {label!r} is not mirrored"
    return run


def assert_poison_outcome(label: str, world: PoisonWorld, summary: dict) -> None:
    """``label``'s item is mirrored, and stored faithfully or named in a warning.

    Warnings are matched by a fragment of the item's key or id, never by wording.
    """
    run_id = world.run_ids.get(label, "")
    if label in ("deep_signature", "alias_bomb"):
        key = world.run_key(label, "model/MLmodel")
        assert len(warnings_naming(summary, key)) == 1, (key, summary["warnings"])
        mlmodel = Artifact.objects.get(key=key)
        assert mlmodel.meta and mlmodel.meta.get("error"), mlmodel.meta
    elif label == "note":
        experiment = Experiment.objects.get(experiment_id=world.experiment_ids["note"])
        if experiment.mlflow_description != NOTE_CONTENT:
            named = warnings_naming(summary, experiment.name) or warnings_naming(
                summary, f"experiment {experiment.experiment_id}"
            )
            assert named, summary["warnings"]
    elif label == "long_names":
        if _mirrored_run(world, label).name != LONG_RUN_NAME:
            assert warnings_naming(summary, run_id), summary["warnings"]
        model = RegisteredModel.objects.filter(name__startswith=LONG_MODEL_NAME[:100]).first()
        assert model is not None, "the model with a 600-character name is not mirrored"
        assert model.versions.exists()
        if model.name != LONG_MODEL_NAME:
            assert warnings_naming(summary, LONG_MODEL_NAME[:40]), summary["warnings"]
    elif label == "nul_param":
        run = _mirrored_run(world, label)
        assert run.params.get("n_estimators") == "100"
        if run.params.get("comment") != NUL_PARAM_VALUE:
            assert warnings_naming(summary, run_id), summary["warnings"]
    elif label == "nul_key":
        _mirrored_run(world, label)
        assert Artifact.objects.filter(key=world.run_key(label, "sensor_config.txt")).exists()
        # PostgreSQL cannot store a key holding NUL, nor be asked for one: the catalogue
        # skips such a key on both databases, with a warning naming it.
        assert warnings_naming(summary, run_id), summary["warnings"]
        stored = Artifact.objects.filter(key__startswith=world.run_key(label, ""))
        assert not [key for key in stored.values_list("key", flat=True) if "name.txt" in key]
    elif label == "inf_metrics":
        run = _mirrored_run(world, label)
        points = MetricPoint.objects.filter(run=run).values_list("key", "step", "value")
        history = {(key, step): value for key, step, value in points}
        assert history.get(("loss", 0)) == 1.0 and history.get(("gain", 1)) == 0.25, history
        if history.get(("loss", 1)) != math.inf or history.get(("gain", 2)) != -math.inf:
            assert warnings_naming(summary, run_id), (history, summary["warnings"])
    elif label == "html_names":
        experiment = Experiment.objects.get(experiment_id=world.experiment_ids["html"])
        assert experiment.name == HTML_EXPERIMENT
        assert _mirrored_run(world, label).name == HTML_RUN
        assert ModelVersion.objects.filter(registered_model__name=HTML_MODEL).exists()
    elif label == "huge_image":
        _mirrored_run(world, label)
        assert Artifact.objects.filter(key=world.run_key(label, "plots/huge.png")).exists()
    elif label == "odd_paths":
        for path in (ODD_IMAGE_PATH, ODD_TEXT_PATH):
            assert Artifact.objects.filter(key=world.run_key(label, path), path=path).exists()
    elif label == "traversal_model":
        assert ModelVersion.objects.filter(registered_model__name=TRAVERSAL_MODEL).exists()
    else:
        raise AssertionError(f"no outcome defined for the poison {label!r}")
    if label in ("html_names", "huge_image", "odd_paths"):
        # Odd but valid items draw no warning.
        assert not warnings_naming(summary, run_id), summary["warnings"]


# --- the full world: the sync --------------------------------------------------------


def test_full_world_sync_is_ok_and_warns_per_data_problem(sync_world, poison_world):
    code, summary = sync_world(poison_world)
    assert_ok(code, summary)
    failures = []
    for label in poison_world.poisons:
        try:
            assert_poison_outcome(label, poison_world, summary)
        except AssertionError as error:
            failures.append(f"{label}: {' '.join(str(error).split())[:400]}")
    assert not failures, "\n".join(failures)
    assert not warnings_naming(summary, poison_world.run_ids["clean"]), summary["warnings"]


def test_full_world_clean_items_are_mirrored(sync_world, poison_world):
    assert_ok(*sync_world(poison_world))
    assert_clean_items_mirrored(poison_world)


def test_full_world_second_sync_is_ok_too(sync_world, poison_world):
    assert_ok(*sync_world(poison_world))
    code, second = sync_world(poison_world)
    assert_ok(code, second)
    for entity, counts in second["counts"].items():
        assert counts["missing"] == counts["created"] == 0, (entity, counts)
    assert_clean_items_mirrored(poison_world)


# --- the full world: the pages -------------------------------------------------------


def test_full_world_every_page_answers_below_500(sync_world, poison_world, reader_client):
    assert_ok(*sync_world(poison_world))
    assert_pages_answer(reader_client, poison_world)


# The page tests below run on the full world and on the clean items with only the poison
# they are about: the second shows that poison's own effect when another one breaks more.
WORLDS = ["full", "alone"]


def _world(world_of, which: str, label: str) -> PoisonWorld:
    return world_of(POISONS if which == "full" else [label])


@pytest.mark.parametrize("which", WORLDS)
def test_mapping_export_holds_no_raw_markup(sync_world, world_of, reader_client, which):
    assert_ok(*sync_world(_world(world_of, which, "html_names")))
    response, error = fetch(reader_client, reverse("catalog:mapping_export"))
    assert not error, error
    assert response.status_code == 200
    text = body_of(response).decode()
    assert "alert(1)" in text, "the HTML-named items are in the export, as text"
    # Names stay literal inside fenced code (the usage snippet must run as pasted), where
    # every Markdown renderer shows them as text; everywhere else they are escaped.
    outside_fences = FENCE.sub("", text).lower()
    assert "<script" not in outside_fences
    assert "<img" not in outside_fences
    rendered = rendered_as_wiki(text).lower()
    assert "<script" not in rendered
    assert "<img" not in rendered


@pytest.mark.parametrize("which", WORLDS)
def test_page_sizes_are_clamped(sync_world, world_of, reader_client, which):
    assert_ok(*sync_world(_world(world_of, which, "html_names")))
    failures = []
    for page in ("catalog:home", "catalog:experiment_list", "catalog:model_list", "catalog:audit"):
        for per_page in ("-1", "0", "1000000", "abc"):
            url = reverse(page) + "?" + _query(per_page=per_page)
            response, error = fetch(reader_client, url)
            if error:
                failures.append(f"{url}: {error}")
                continue
            body = body_of(response)
            rows = body.decode(errors="replace").count("<tr")
            if response.status_code >= 500 or len(body) > MAX_PAGE_BYTES:
                failures.append(f"{url}: status {response.status_code}, {len(body)} bytes")
            elif rows > MAX_TABLE_ROWS + 1:  # + the header row
                failures.append(f"{url}: {rows} rows")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("which", WORLDS)
def test_model_named_like_a_path_links_to_its_own_page(sync_world, world_of, reader_client, which):
    assert_ok(*sync_world(_world(world_of, which, "traversal_model")))
    base = reverse("catalog:model_list")
    html = reader_client.get(base).content.decode()
    hrefs = [href for href, text in links_of(html) if text == TRAVERSAL_MODEL]
    assert hrefs, f"no link to {TRAVERSAL_MODEL!r} on the models list"
    for href in hrefs:
        path = browser_path(base=base, href=href)
        assert not path.startswith("/admin"), (href, path)
        try:
            match = resolve_browser_path(path)
        except Resolver404:
            pytest.fail(f"{href!r} goes to {path!r}, which is no page")
        assert (match.view_name, match.kwargs.get("name")) == (
            "catalog:model_detail",
            TRAVERSAL_MODEL,
        ), (href, path)
        response = reader_client.get(path)
        assert response.status_code == 200
        assert TRAVERSAL_MODEL in response.content.decode()


def _follow_to_file(client, *, start: str, path: str, depth: int = 3) -> str | None:
    """The browser path of the file page of ``path``, reached by links from ``start``."""
    seen, frontier = {start}, [start]
    for _ in range(depth):
        following = []
        for page in frontier:
            html = client.get(page).content.decode()
            for href, _text in links_of(html):
                target = browser_path(base=page, href=href)
                try:
                    match = resolve_browser_path(target)
                except Resolver404:
                    continue
                if match.view_name not in ("catalog:run_artifact", "catalog:run_artifacts"):
                    continue
                if match.kwargs.get("path") == path:
                    return target
                if target not in seen:
                    seen.add(target)
                    following.append(target)
        frontier = following
    return None


@pytest.mark.parametrize("which", WORLDS)
@pytest.mark.parametrize("path", [ODD_IMAGE_PATH, ODD_TEXT_PATH])
def test_odd_artifact_paths_are_reached_through_the_pages_links(
    sync_world, world_of, reader_client, path, which
):
    world = _world(world_of, which, "odd_paths")
    assert_ok(*sync_world(world))
    run_page = reverse("catalog:run_detail", args=[world.run_ids["odd_paths"]])
    file_page = _follow_to_file(reader_client, start=run_page, path=path)
    assert file_page, f"no link from the run's pages reaches {path!r}"
    response = reader_client.get(file_page)
    assert response.status_code == 200

    downloads = []
    for href, _text in links_of(response.content.decode()):
        target = browser_path(base=file_page, href=href)
        try:
            match = resolve_browser_path(target)
        except Resolver404:
            continue
        if match.view_name == "catalog:run_artifact_raw":
            downloads.append((target, match.kwargs.get("path")))
    assert downloads, f"the file page of {path!r} has no download link"
    for target, linked_path in downloads:
        assert linked_path == path, (target, linked_path)
        download = reader_client.get(target)
        assert download.status_code == 200, target
        assert body_of(download) == world.odd_bodies[path]


# --- each poison alone beside the clean items ----------------------------------------


@pytest.mark.parametrize("label", ["none", *POISONS])
def test_one_poison_alone_is_a_warning_not_a_failed_sync(sync_world, world_of, label):
    world = world_of([] if label == "none" else [label])
    code, summary = sync_world(world)
    assert_ok(code, summary)
    if label != "none":
        assert_poison_outcome(label, world, summary)
    assert not warnings_naming(summary, world.run_ids["clean"]), summary["warnings"]
    assert_clean_items_mirrored(world)


@pytest.mark.parametrize("label", ["none", *POISONS])
def test_one_poison_alone_leaves_every_page_below_500(sync_world, world_of, reader_client, label):
    world = world_of([] if label == "none" else [label])
    assert_ok(*sync_world(world))
    assert_pages_answer(reader_client, world)
