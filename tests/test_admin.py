"""The admin: curated fields editable by staff, synced fields read-only, login enforced."""

import pytest
from django.urls import reverse

from catalog.models import Category, Experiment, RegisteredModel
from tests.factories import (
    make_artifact,
    make_experiment,
    make_logged_model,
    make_model_version,
    make_registered_model,
    make_run,
    make_sync_run,
)

pytestmark = pytest.mark.django_db


def _change_form_data(response) -> dict:
    """The change form's current values, as the browser would post them back."""
    form = response.context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        data[name] = "" if value is None else value
    return data


def test_staff_can_edit_a_description(staff_client):
    experiment = make_experiment(name="Anomaly Detection", mlflow_description="from MLflow")
    url = reverse("admin:catalog_experiment_change", args=[experiment.pk])
    data = _change_form_data(staff_client.get(url))
    data.update({"description": "Enhanced anomaly detection on **real** sensors", "notes": "x"})

    response = staff_client.post(url, data)

    assert response.status_code == 302, response.content[:2000]
    experiment.refresh_from_db()
    assert experiment.description == "Enhanced anomaly detection on **real** sensors"
    assert experiment.mlflow_description == "from MLflow"


def test_staff_can_override_a_category(staff_client):
    model = make_registered_model(category=Category.OTHER)
    url = reverse("admin:catalog_registeredmodel_change", args=[model.pk])
    data = _change_form_data(staff_client.get(url))
    data["category_override"] = Category.FORECASTING

    assert staff_client.post(url, data).status_code == 302
    model.refresh_from_db()
    assert model.effective_category == Category.FORECASTING
    assert model.category == Category.OTHER


def test_synced_fields_are_not_editable_even_when_posted(staff_client):
    experiment = make_experiment(name="Forecasting Models")
    url = reverse("admin:catalog_experiment_change", args=[experiment.pk])
    response = staff_client.get(url)
    form_fields = set(response.context["adminform"].form.fields)
    assert form_fields == set(Experiment.CURATED_FIELDS)

    data = _change_form_data(response)
    data.update({"name": "renamed by hand", "experiment_id": "999", "description": "ok"})
    assert staff_client.post(url, data).status_code == 302
    experiment.refresh_from_db()
    assert (experiment.name, experiment.experiment_id) == (
        "Forecasting Models",
        experiment.experiment_id,
    )
    assert experiment.experiment_id != "999"
    assert experiment.description == "ok"


@pytest.mark.parametrize(
    "builder",
    [
        make_experiment,
        make_run,
        make_registered_model,
        make_model_version,
        make_logged_model,
        lambda: make_artifact(key="stray/x.bin"),
    ],
)
def test_every_mirrored_model_has_a_read_only_change_page_and_no_add(staff_client, builder):
    row = builder()
    opts = type(row)._meta
    change = staff_client.get(reverse(f"admin:catalog_{opts.model_name}_change", args=[row.pk]))
    assert change.status_code == 200
    editable = set(change.context["adminform"].form.fields)
    assert editable == set(type(row).CURATED_FIELDS)

    listing = staff_client.get(reverse(f"admin:catalog_{opts.model_name}_changelist"))
    assert listing.status_code == 200
    assert staff_client.get(reverse(f"admin:catalog_{opts.model_name}_add")).status_code == 403


def test_changelists_search_and_filter(staff_client):
    make_registered_model(name="xjtu_feature_scaler", category=Category.PREPROCESSING)
    make_registered_model(name="ai4i_classifier_svc_baseline", category=Category.CLASSIFICATION)
    url = reverse("admin:catalog_registeredmodel_changelist")

    found = staff_client.get(url, {"q": "xjtu"})
    assert [m.name for m in found.context["cl"].result_list] == ["xjtu_feature_scaler"]
    filtered = staff_client.get(url, {"category__exact": Category.CLASSIFICATION})
    assert [m.name for m in filtered.context["cl"].result_list] == ["ai4i_classifier_svc_baseline"]


def test_the_last_sync_run_is_visible_on_the_admin_index(staff_client):
    make_sync_run(status="partial", warnings=["listing cut short"])
    response = staff_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert b"Last sync" in response.content
    assert b"Partial" in response.content


def test_sync_runs_are_read_only(staff_client):
    sync = make_sync_run()
    assert staff_client.get(reverse("admin:catalog_syncrun_changelist")).status_code == 200
    assert staff_client.get(reverse("admin:catalog_syncrun_add")).status_code == 403
    response = staff_client.post(
        reverse("admin:catalog_syncrun_change", args=[sync.pk]), {"status": "ok"}
    )
    assert response.status_code == 403


def test_anonymous_users_are_redirected_to_login(client):
    model = make_registered_model()
    for url in (
        reverse("admin:index"),
        reverse("admin:catalog_registeredmodel_change", args=[model.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login/" in response["Location"]


def test_non_staff_users_cannot_use_the_admin(reader_client):
    response = reader_client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_description_edit_needs_staff_not_just_a_login(reader_client):
    model = make_registered_model()
    url = reverse("admin:catalog_registeredmodel_change", args=[model.pk])
    reader_client.post(url, {"description": "vandalism"})
    assert RegisteredModel.objects.get(pk=model.pk).description == ""
