"""``manage.py export_mapping`` and /export/mapping.md: the seed page, regenerated."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from tests.pages.conftest import SEED_WORLD


def _export(**options) -> str:
    out = io.StringIO()
    call_command("export_mapping", stdout=out, **options)
    return out.getvalue()


def test_quick_reference_table_with_correct_counts(seed_world):
    markdown = _export()
    rows = re.findall(r"^\| (\d+)/ \| ([^|]+) \| [^|]* \| (\d+) \| ([^|]+) \|$", markdown, re.M)
    assert [(folder, name.strip(), int(count)) for folder, name, count, _ in rows] == [
        (folder, name, count)
        for (folder, (name, _, _)), count in zip(
            SEED_WORLD.items(), [2, 1, 2, 6, 2, 2, 2], strict=True
        )
    ]
    key_models_of_four = rows[3][3]
    assert "(+3 more)" in key_models_of_four


def test_sections_in_the_seeds_structure(seed_world):
    markdown = _export()
    headings = re.findall(r"^(#{1,3}) (.+)$", markdown, re.M)
    titles = [title for _, title in headings]
    for title in (
        "S3 Artifact Storage Mapping",
        "Quick Reference Table",
        "Overview",
        "Experiment-to-S3 Folder Mapping",
        "Folder 4/ - Classification Gauntlet (AI4I)",
        "Artifact Structure",
        "Model Categories by Type",
        "Anomaly detection Models",
        "Preprocessing / utility Models",
        "Usage Instructions",
        "Quality Metrics Summary",
        "Maintenance Notes",
    ):
        assert title in titles, title
    assert "- **Total Experiments:** 7" in markdown
    assert "- **Total Registered Models:** 17" in markdown
    assert "- **Total Runs:** 15" in markdown
    assert "`c795e657a4d147f1ac84ea0dc2bb68f1/` - randomforest_baseline - **FINISHED**" in markdown
    assert "- `xjtu_feature_scaler` (S3: 7/)" in markdown
    assert "│   ├── model/" in markdown and "MLmodel" in markdown
    assert "**Last Sync:** 2026-11-01 12:00 UTC" in markdown
    assert "Orphaned storage:** 1 objects, 4.0\xa0KB" in markdown
    assert "ai4i_classifier_lightgbm_engineered` v1: accuracy = 0.985 (Folder 4/)" in markdown
    assert 'mlflow.pyfunc.load_model("models:/' in markdown
    assert "models://" not in markdown


def test_output_file_and_view_agree(seed_world, tmp_path, reader_client):
    target = tmp_path / "mapping.md"
    _export(output=str(target))
    from_file = target.read_text()
    from_view = reader_client.get(reverse("catalog:mapping_export")).content.decode()
    # Only the "Generated" minute may differ.
    strip = lambda text: re.sub(r"\*\*Generated:\*\* [^\n]+", "", text)  # noqa: E731
    assert strip(from_file) == strip(from_view)


def test_bad_output_directory_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="No such directory"):
        _export(output=str(tmp_path / "missing" / "mapping.md"))


def test_empty_catalogue(db):
    markdown = _export()
    assert "**Last Sync:** never" in markdown
    assert "- **Total Experiments:** 0" in markdown
