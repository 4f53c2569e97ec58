"""Every CSV export the site offers is plain, machine-readable text.

The exports are found the way a user finds them: by following the pages' links from the
home page to every "Download CSV" button. A parametrised list of the exports known
today is the floor: each must still be linked from its page, and each is checked on
its own. Every cell must be plain text: no markup that the source value did not hold
(a tag value ``<b>`` stays ``<b>``), full run ids, full lists, ISO 8601 dates, numbers
as numbers, no cell a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from html.parser import HTMLParser
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

import pytest
from django.urls import Resolver404, resolve, reverse

from catalog.model_urls import model_url
from catalog.models import Run
from catalog.views.exports import csv_safe
from tests.factories import (
    NOW,
    make_change_event,
    make_experiment,
    make_model_version,
    make_registered_model,
    make_run,
)

# Source values holding markup, quotes and an ampersand: they must come out as they are.
HOSTILE_TEXT = '<b>bold</b> & "quoted" <script>alert(1)</script>'
HOSTILE_MODEL = "hostile <b>model</b>"
HOSTILE_ALIAS = "champion<b>"
SOURCES_WITH_MARKUP = (HOSTILE_TEXT, HOSTILE_MODEL, HOSTILE_ALIAS)
FORMULA_RUN = '=HYPERLINK("http://evil.example","open")'
FORMULA_MODEL = "@SUM(1+1)"
# Longer than the 10,000 characters an export once cut a purpose to.
LONG_PURPOSE = "A purpose " + "x" * 12_000 + " " + HOSTILE_TEXT
# More digits than the pages show ("0.1235"): an export keeps every one of them.
PRECISE = 0.12345678901234568

# Pages whose links the crawl follows: every list and detail page with a table.
CRAWLED_PAGES = {
    "home",
    "experiment_list",
    "experiment_detail",
    "model_list",
    "model_detail",
    "category_list",
    "metrics",
    "audit",
    "changes",
}
# Query parameters a crawled link may carry (others are sorts and pages of the same table).
CRAWLED_PARAMS = {"section"}
ENTITIES = re.compile(r"&(lt|gt|amp|quot|nbsp|#\d+|#x[0-9a-f]+);", re.IGNORECASE)
DATE_START = re.compile(r"^\d{4}-\d{2}-\d{2}")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00|Z)$")
RUN_ID = re.compile(r"^[0-9a-f]{32}$")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def export_world(seed_world):
    """The seed's world plus a folder of hostile, formula-like and precise values.

    Folder 8 holds a run and a model whose names, tags and aliases carry markup, a run
    named like a formula, a model named like one, a metric with 17 significant digits
    and a null (NaN in MLflow) metric. The svc_baseline run is deleted in MLflow, the
    svc_engineered run gone from it.
    """
    svc = seed_world["runs"]["svc_baseline"]
    svc.lifecycle_stage = "deleted"
    svc.save()
    gone = seed_world["runs"]["svc_engineered"]
    gone.missing_since = NOW
    gone.save()
    folder = make_experiment(
        experiment_id="8", name=HOSTILE_TEXT, mlflow_description=LONG_PURPOSE + "\n\nMore."
    )
    hostile_run = make_run(
        experiment=folder,
        name=HOSTILE_TEXT,
        tags={"note": HOSTILE_TEXT},
        metrics={"accuracy": PRECISE, "rmse": None},
        start_time=NOW,
        artifact_count=0,
    )
    formula_run = make_run(experiment=folder, name=FORMULA_RUN, artifact_count=0)
    hostile_model = make_registered_model(
        name=HOSTILE_MODEL,
        experiment=folder,
        category="classification",
        latest_version=1,
        aliases={HOSTILE_ALIAS: 1},
        tags={"note": HOSTILE_TEXT},
        last_updated_time=NOW,
    )
    make_model_version(
        registered_model=hostile_model,
        run=hostile_run,
        version=1,
        aliases=[HOSTILE_ALIAS],
        artifacts_present=False,
    )
    formula_model = make_registered_model(
        name=FORMULA_MODEL, experiment=folder, category="classification", latest_version=1
    )
    make_model_version(registered_model=formula_model, run=formula_run, version=1)
    # The timeline's export: a hostile name, a formula-like summary, a precise metric.
    make_change_event(
        entity=hostile_run,
        sync_run=seed_world["sync"],
        summary=FORMULA_RUN,
        changes={"metrics.accuracy": [0.5, PRECISE]},
    )
    make_change_event(entity=hostile_model, kind="alias_moved", changes={HOSTILE_ALIAS: [None, 1]})
    return {
        **seed_world,
        "hostile_run": hostile_run,
        "formula_run": formula_run,
        "hostile_model": hostile_model,
    }


def _export_url(page_url: str) -> str:
    separator = "&" if "?" in page_url else "?"
    return page_url + separator + "_export=csv"


# The pages of the exports known today: a floor under the crawl. Each page must link
# its export, and each export is checked on its own too.
FLOOR = {
    "quick-reference": lambda: reverse("catalog:home"),
    "experiments": lambda: reverse("catalog:experiment_list"),
    "runs": lambda: reverse("catalog:experiment_detail", args=["4"]),
    "hostile-runs": lambda: reverse("catalog:experiment_detail", args=["8"]),
    "registered-models": lambda: reverse("catalog:model_list"),
    "model-versions": lambda: model_url("ai4i_classifier_svc_baseline"),
    "hostile-model-versions": lambda: model_url(HOSTILE_MODEL),
    "categories": lambda: reverse("catalog:category_list"),
    "leaderboard": lambda: reverse("catalog:metrics") + "?metric=accuracy",
    "audit-orphans": lambda: reverse("catalog:audit") + "?section=orphans",
    "audit-empty-runs": lambda: reverse("catalog:audit") + "?section=empty-runs",
    "audit-missing-artifacts": lambda: reverse("catalog:audit") + "?section=missing-artifacts",
    "audit-deleted-runs": lambda: reverse("catalog:audit") + "?section=deleted-runs",
    "changes": lambda: reverse("catalog:changes"),
}


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def _page_key(url: str) -> tuple[str, tuple]:
    """A page or an export named by its path and the crawled parameters only."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return unquote(parts.path), tuple(
        sorted((k, tuple(v)) for k, v in query.items() if k in CRAWLED_PARAMS)
    )


def discover_exports(client) -> dict[tuple, str]:
    """Every export linked from the pages reachable from home: page key -> export URL."""
    queue, seen, exports = [reverse("catalog:home")], set(), {}
    while queue:
        url = queue.pop()
        if _page_key(url) in seen:
            continue
        seen.add(_page_key(url))
        response = client.get(url)
        assert response.status_code == 200, url
        parser = _Links()
        parser.feed(response.content.decode())
        for href in parser.hrefs:
            target = urljoin("http://testserver" + url, href)
            parts = urlsplit(target)
            if parts.netloc != "testserver":
                continue
            local = parts.path + ("?" + parts.query if parts.query else "")
            query = parse_qs(parts.query)
            if "_export" in query:
                exports[_page_key(local)] = local
                continue
            if set(query) - CRAWLED_PARAMS:
                continue
            try:
                match = resolve(parts.path)
            except Resolver404:
                continue
            if match.url_name in CRAWLED_PAGES:
                queue.append(local)
    return exports


def _rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; ")
    text = b"".join(response.streaming_content).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows, "an export has at least its header"
    assert all(len(row) == len(rows[0]) for row in rows), "every row has every column"
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def assert_plain_export(rows: list[list[str]], *, label: str) -> None:
    """Every cell is plain text, as the module docstring says a CSV cell must be."""
    text = "\n".join(",".join(row) for row in rows)
    for row in rows:
        for cell in row:
            where = f"{label}: {cell!r}"
            stripped = cell
            for source in sorted(SOURCES_WITH_MARKUP, key=len, reverse=True):
                stripped = stripped.replace(source, "")
            assert "<" not in stripped and ">" not in stripped, f"markup in {where}"
            assert not ENTITIES.search(cell), f"an HTML entity in {where}"
            assert "\u00a0" not in cell, f"a no-break space in {where}"
            assert cell != "—", f"the page's placeholder for no value in {where}"
            assert "…" not in cell, f"a truncated value in {where}"
            assert not re.search(r"\+\d+ more", cell), f"a counter in {where}"
            assert not cell.startswith(FORMULA_START) or _is_number(cell), f"formula {where}"
            if DATE_START.match(cell):
                assert ISO_DATETIME.match(cell), f"not an ISO 8601 date and time: {where}"
    for run in Run.objects.all():
        if run.run_id[:8] in text:
            assert run.run_id in text, f"{label}: run id {run.run_id} cut short"


def _columns(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_every_linked_export_is_plain_text(export_world, reader_client):
    exports = discover_exports(reader_client)
    floor = {_page_key(page()) for page in FLOOR.values()}
    assert floor <= set(exports), f"exports not linked from their page: {floor - set(exports)}"
    for url in exports.values():
        assert_plain_export(_rows(reader_client.get(url)), label=url)


@pytest.mark.parametrize("name", sorted(FLOOR))
def test_export_is_plain_text(export_world, reader_client, name):
    url = _export_url(FLOOR[name]())
    assert_plain_export(_rows(reader_client.get(url)), label=name)


def test_runs_export_has_full_ids_lifecycle_iso_dates_and_full_metrics(export_world, reader_client):
    url = _export_url(reverse("catalog:experiment_detail", args=["4"]))
    rows = _columns(_rows(reader_client.get(url)))
    expected = set(
        Run.objects.filter(experiment__experiment_id="4").values_list("run_id", flat=True)
    )
    assert {row["Run ID"] for row in rows} == expected
    assert all(RUN_ID.match(row["Run ID"]) for row in rows)
    lifecycle = {row["Name"]: row["Lifecycle"] for row in rows}
    assert lifecycle["svc_baseline"] == "deleted"
    assert lifecycle["lightgbm_engineered"] == "active"
    in_mlflow = {row["Name"]: row["In MLflow"] for row in rows}
    assert in_mlflow["svc_engineered"] == NOW.isoformat()
    assert in_mlflow["svc_baseline"] == "present"
    svc = next(row for row in rows if row["Name"] == "svc_baseline")
    assert datetime.fromisoformat(svc["Start"]) == export_world["runs"]["svc_baseline"].start_time
    assert svc["Bytes"] == str(5 * 1234)
    assert svc["Duration (s)"] == "420.0"
    assert "Duration" not in svc  # the page's "7m 00s" is for people
    assert svc["Key metrics"] == "accuracy=0.951; f1_score=0.901"

    url = _export_url(reverse("catalog:experiment_detail", args=["8"]))
    rows = _columns(_rows(reader_client.get(url)))
    hostile = next(row for row in rows if row["Run ID"] == export_world["hostile_run"].run_id)
    assert hostile["Name"] == HOSTILE_TEXT
    assert hostile["Key metrics"] == f"accuracy={PRECISE!r}; rmse="
    formula = next(row for row in rows if row["Run ID"] == export_world["formula_run"].run_id)
    assert formula["Name"] == "'" + FORMULA_RUN


def test_model_versions_export_names_the_model_and_the_full_run_id(export_world, reader_client):
    url = _export_url(model_url(HOSTILE_MODEL))
    (row,) = _columns(_rows(reader_client.get(url)))
    assert row["Model"] == HOSTILE_MODEL
    assert row["Version"] == "1"
    assert row["Source run"] == export_world["hostile_run"].run_id
    assert row["Aliases"] == HOSTILE_ALIAS
    assert row["Artifacts"] == "missing"
    assert ISO_DATETIME.match(row["Created"])


def test_models_export_keeps_every_tag_and_alias_as_text(export_world, reader_client):
    rows = _columns(_rows(reader_client.get(_export_url(reverse("catalog:model_list")))))
    hostile = next(row for row in rows if row["Name"] == HOSTILE_MODEL)
    assert hostile["Tags"] == f"note={HOSTILE_TEXT}"
    assert hostile["Aliases"] == f"{HOSTILE_ALIAS}=1"
    assert hostile["Updated"] == NOW.isoformat()
    assert next(row for row in rows if row["Name"] == "xjtu_feature_scaler")["Updated"] == ""
    assert {row["Name"] for row in rows} >= {"'" + FORMULA_MODEL, "xjtu_feature_scaler"}


def test_quick_reference_lists_every_model_not_a_counter(export_world, reader_client):
    rows = _columns(_rows(reader_client.get(_export_url(reverse("catalog:home")))))
    four = next(row for row in rows if row["S3 folder"] == "4/")
    names = four["Key models"].split("; ")
    assert sorted(names) == sorted(
        export_world["models"][name].name
        for name in export_world["models"]
        if name.startswith("ai4i_")
    )
    assert four["Models"] == "6"
    assert four["Artifact location"] == export_world["experiments"]["4"].artifact_location
    eight = next(row for row in rows if row["S3 folder"] == "8/")
    assert eight["Experiment"] == HOSTILE_TEXT
    assert eight["Purpose"] == LONG_PURPOSE
    assert sorted(eight["Key models"].lstrip("'").split("; ")) == sorted(
        [HOSTILE_MODEL, FORMULA_MODEL]
    )


def test_quick_reference_export_runs_a_fixed_number_of_queries(
    export_world, reader_client, django_assert_max_num_queries
):
    for index in range(30):
        experiment = make_experiment(experiment_id=str(100 + index))
        make_registered_model(name=f"extra_{index}", experiment=experiment)
    # The session and user, the rows, and every row's model names in one more query.
    with django_assert_max_num_queries(6):
        rows = _rows(reader_client.get(_export_url(reverse("catalog:experiment_list"))))
    assert len(rows) == 1 + 8 + 30


def test_categories_page_links_its_export_of_every_model(export_world, reader_client):
    page = reverse("catalog:category_list")
    html = reader_client.get(page).content.decode()
    assert 'href="?_export=csv"' in html
    rows = _columns(_rows(reader_client.get(_export_url(page))))
    assert list(rows[0]) == [
        "Category",
        "Model",
        "Latest version",
        "Aliases",
        "S3 folder",
        "Experiment",
    ]
    by_name = {row["Model"]: row for row in rows}
    assert len(by_name) == 17 + 2
    scaler = by_name["xjtu_feature_scaler"]
    assert scaler == {
        "Category": "preprocessing",
        "Model": "xjtu_feature_scaler",
        "Latest version": "1",
        "Aliases": "champion=1",
        "S3 folder": "7/",
        "Experiment": "Vibration Gauntlet (XJTU)",
    }
    assert by_name[HOSTILE_MODEL]["Aliases"] == f"{HOSTILE_ALIAS}=1"
    assert "'" + FORMULA_MODEL in by_name
    # Grouped as the page groups them: category order, then name.
    categories = [row["Category"] for row in rows]
    assert categories == sorted(
        categories,
        key=["anomaly_detection", "classification", "forecasting", "preprocessing", "other"].index,
    )


def test_unknown_export_format_is_refused_and_said(export_world, reader_client):
    response = reader_client.get(reverse("catalog:model_list") + "?_export=xlsx")
    assert response.status_code == 400
    assert b"csv" in response.content
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\uff1d1+2", "'\uff1d1+2"),  # a full-width equals sign, which some spreadsheets take
        ("-0.5", "-0.5"),
        ("+1e-07", "+1e-07"),
        ("-3", "-3"),
        ("a=1", "a=1"),
        ("", ""),
        (None, ""),
        (0.12345678901234568, "0.12345678901234568"),
        (-12, "-12"),
    ],
)
def test_csv_safe_defuses_formulas_and_keeps_numbers(value, cell):
    assert csv_safe(value) == cell
