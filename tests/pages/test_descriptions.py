"""Descriptions on the detail pages: curated first, MLflow's too, each labelled by origin.

MLflow keeps an experiment's, run's and logged model's description in the
``mlflow.note.content`` tag (its UI shows it as the description) and a registered
model's or version's in the registry's description field; the admin's curated one is
shown first but never hides MLflow's when the two differ.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.descriptions import MLFLOW_NOTE_TAG, descriptions_of
from tests.factories import (
    make_experiment,
    make_logged_model,
    make_model_version,
    make_registered_model,
    make_run,
)
from tests.pages.test_security import HOSTILE_MARKDOWN, _assert_inert

NOTE = "Trained on **AI4I** with engineered features."
CURATED = "Our _champion_ for machine failure."


def _section(html: str) -> str:
    """The description section of a page (the partial's <section>)."""
    match = re.search(r'<section class="purpose description">(.*?)</section>', html, re.S)
    assert match, "no description section"
    return match.group(1)


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_run_note_tag_is_rendered_as_the_description_and_the_tag_row_stays(reader_client, db):
    run = make_run(tags={MLFLOW_NOTE_TAG: NOTE, "team": "maint"})

    html = _page(reader_client, run.get_absolute_url())

    section = _section(html)
    assert "<strong>AI4I</strong>" in section
    assert "From MLflow" in section
    assert "Curated in the catalogue" not in section
    # The tags table still lists the tag with its raw Markdown.
    assert f'<th scope="row">{MLFLOW_NOTE_TAG}</th><td>Trained on **AI4I**' in html


def test_run_curated_description_comes_first_then_mlflows(reader_client, db):
    run = make_run(description=CURATED, tags={MLFLOW_NOTE_TAG: NOTE})

    section = _section(_page(reader_client, run.get_absolute_url()))

    curated_at = section.index("<em>champion</em>")
    mlflow_at = section.index("<strong>AI4I</strong>")
    assert section.index("Curated in the catalogue") < curated_at < mlflow_at
    assert curated_at < section.index("From MLflow") < mlflow_at


def test_the_same_text_in_both_places_is_shown_once(reader_client, db):
    run = make_run(description=NOTE + "\n", tags={MLFLOW_NOTE_TAG: NOTE})

    section = _section(_page(reader_client, run.get_absolute_url()))

    assert section.count("<strong>AI4I</strong>") == 1
    assert "Curated in the catalogue, same as in MLflow" in section
    assert "From MLflow</p>" not in section


def test_experiment_shows_curated_purpose_and_mlflows_when_they_differ(reader_client, db):
    experiment = make_experiment(
        experiment_id="41",
        mlflow_description=NOTE,
        tags={MLFLOW_NOTE_TAG: NOTE},
        description=CURATED,
        notes="Ask the *maintenance* team first.",
    )

    section = _section(_page(reader_client, experiment.get_absolute_url()))

    assert "<h2>Purpose</h2>" in section
    assert section.index("<em>champion</em>") < section.index("<strong>AI4I</strong>")
    assert "From MLflow" in section
    assert "<h3>Notes</h3>" in section and "<em>maintenance</em>" in section


def test_experiment_note_tag_is_read_when_the_mirrored_field_is_empty(reader_client, db):
    experiment = make_experiment(experiment_id="42", tags={MLFLOW_NOTE_TAG: NOTE})

    section = _section(_page(reader_client, experiment.get_absolute_url()))

    assert "<strong>AI4I</strong>" in section and "From MLflow" in section


def test_registered_model_and_version_show_both_origins(reader_client, db):
    model = make_registered_model(
        name="ai4i_classifier", mlflow_description=NOTE, description=CURATED
    )
    version = make_model_version(
        registered_model=model,
        version=1,
        mlflow_description="Version *one*.",
        notes="Validated on **March** data.",
    )

    model_section = _section(_page(reader_client, model.get_absolute_url()))
    assert model_section.index("<em>champion</em>") < model_section.index("<strong>AI4I</strong>")
    assert "Curated in the catalogue" in model_section and "From MLflow" in model_section

    version_section = _section(_page(reader_client, version.get_absolute_url()))
    assert "<em>one</em>" in version_section and "From MLflow" in version_section
    # Curated notes of a version were never shown before.
    assert "<strong>March</strong>" in version_section


def test_logged_model_note_tag_and_notes(reader_client, db):
    logged_model = make_logged_model(
        tags={MLFLOW_NOTE_TAG: NOTE}, description=CURATED, notes="Kept for the audit."
    )

    section = _section(_page(reader_client, logged_model.get_absolute_url()))

    assert section.index("<em>champion</em>") < section.index("<strong>AI4I</strong>")
    assert "Kept for the audit." in section


def test_run_notes_are_shown(reader_client, db):
    run = make_run(notes="Rerun after the *sensor* fix.")

    section = _section(_page(reader_client, run.get_absolute_url()))

    assert "<em>sensor</em>" in section and "No description." in section


def test_nothing_to_say_says_so(reader_client, db):
    run = make_run(description="   \n", tags={MLFLOW_NOTE_TAG: "\n"})

    section = _section(_page(reader_client, run.get_absolute_url()))

    assert "No description." in section
    assert "Curated" not in section and "From MLflow" not in section


def test_hostile_note_tags_are_inert(reader_client, db):
    experiment = make_experiment(experiment_id="43", tags={MLFLOW_NOTE_TAG: HOSTILE_MARKDOWN})
    run = make_run(experiment=experiment, tags={MLFLOW_NOTE_TAG: HOSTILE_MARKDOWN})
    logged_model = make_logged_model(
        experiment=experiment, tags={MLFLOW_NOTE_TAG: HOSTILE_MARKDOWN}
    )

    for url in (
        experiment.get_absolute_url(),
        run.get_absolute_url(),
        logged_model.get_absolute_url(),
    ):
        section = _section(_page(reader_client, url))
        _assert_inert(section)
        assert "<h1>Purpose</h1>" in section  # rendered, not shown raw


def test_staff_get_an_edit_link(staff_client, db):
    run = make_run(description=CURATED)
    admin_url = reverse("admin:catalog_run_change", args=[run.pk])

    section = _section(_page(staff_client, run.get_absolute_url()))

    assert f'<a href="{admin_url}">Edit in the admin</a>' in section


def test_readers_get_no_edit_link(reader_client, db):
    run = make_run(description=CURATED)

    section = _section(_page(reader_client, run.get_absolute_url()))

    assert "/admin/" not in section and "Edit in the admin" not in section


def test_description_pages_run_no_extra_query(reader_client, db, django_assert_num_queries):
    """Descriptions come from the rows the page already loads."""
    plain = make_run()
    described = make_run(
        description=CURATED, notes="n", tags={MLFLOW_NOTE_TAG: NOTE}, experiment=plain.experiment
    )
    with CaptureQueriesContext(connection) as plain_queries:
        _page(reader_client, plain.get_absolute_url())
    with django_assert_num_queries(len(plain_queries)):
        _page(reader_client, described.get_absolute_url())


@pytest.mark.parametrize("where", ["home", "experiment_list"])
def test_lists_show_the_curated_purpose_first(reader_client, db, where):
    make_experiment(experiment_id="44", mlflow_description="MLflow says this", description=CURATED)

    html = _page(reader_client, reverse(f"catalog:{where}"))

    assert "Our _champion_ for machine failure." in html
    assert "MLflow says this" not in html


def test_descriptions_of_ignores_blank_text_and_non_text_tags(db):
    run = make_run(description=" \n ", tags={MLFLOW_NOTE_TAG: ["not", "text"]})
    descriptions = descriptions_of(run)
    assert descriptions.is_empty
    assert not descriptions.same and not descriptions.mlflow_shown_apart

    version = make_model_version(mlflow_description="v")
    assert descriptions_of(version).curated == ""  # versions have notes, not descriptions
    assert descriptions_of(version).mlflow_shown_apart
