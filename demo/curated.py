"""The seed page's facts that no source holds, entered as a team lead would in the admin.

The hand-kept page (shared/seed/000_...txt) has a "Related" list of documents, a "V1.0
Production" status and a "Specialized Domain Models" list: neither MLflow nor S3 knows
them, so the catalogue keeps them in curated fields (``Experiment.related_links`` and
``specialized_domain``, ``RegisteredModel.release_label``). The demo fills them after
its sync, so ``/export/mapping.md`` shows the seed's sections whole.

Run as ``python -m demo.curated`` with the demo's environment (``demo.serve`` does,
after ``sync_registry``); it only updates rows the sync created.
"""

from __future__ import annotations

from demo.seed import EXPERIMENTS, REGISTERED_MODEL_NAMES

DEPLOYMENT_CHECKLIST = (
    "[V1_UNIFIED_DEPLOYMENT_CHECKLIST.md](./V1_UNIFIED_DEPLOYMENT_CHECKLIST.md)"
    " - Current deployment procedures"
)
SPRINT_4_CHANGELOG = (
    "[Sprint 4 Changelog](./legacy/sprint_4_changelog.md) - S3 integration achievements (archived)"
)
# Every folder is deployed by the checklist; folder 1/ validated the S3 integration.
RELATED_LINKS = {experiment.experiment_id: DEPLOYMENT_CHECKLIST for experiment in EXPERIMENTS} | {
    "1": f"{DEPLOYMENT_CHECKLIST}\n{SPRINT_4_CHANGELOG}"
}
SPECIALIZED_DOMAINS = {
    "3": "Time-Series Forecasting",
    "5": "Vibration Analysis",
    "6": "Audio Analysis",
    "7": "Vibration Analysis",
}
RELEASE_LABEL = "V1.0 Production"


def apply_curated_facts() -> dict[str, int]:
    """Write the curated facts onto the synced rows; returns how many rows each touched."""
    from catalog.models import Experiment, RegisteredModel

    experiments = 0
    for experiment_id, links in RELATED_LINKS.items():
        experiments += Experiment.objects.filter(experiment_id=experiment_id).update(
            related_links=links,
            specialized_domain=SPECIALIZED_DOMAINS.get(experiment_id, ""),
        )
    models = RegisteredModel.objects.filter(name__in=REGISTERED_MODEL_NAMES).update(
        release_label=RELEASE_LABEL
    )
    return {"experiments": experiments, "registered_models": models}


def main() -> None:
    """Set Django up and apply the curated facts, printing the counts."""
    import django

    django.setup()
    counts = apply_curated_facts()
    print(f"{counts['experiments']} experiments, {counts['registered_models']} registered models")


if __name__ == "__main__":
    main()
