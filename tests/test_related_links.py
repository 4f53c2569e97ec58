"""A folder's curated related links: parsed per line, only safe addresses, checked in the admin."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from catalog.models import Experiment
from catalog.related_links import (
    MAX_LINKS,
    RelatedLink,
    parse_line,
    parse_related_links,
    validate_related_links,
)
from tests.factories import make_experiment


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "[Sprint 4 Changelog](./legacy/sprint_4_changelog.md) - S3 integration (archived)",
            RelatedLink(
                "Sprint 4 Changelog", "./legacy/sprint_4_changelog.md", "S3 integration (archived)"
            ),
        ),
        (
            "- [CHECKLIST.md](./CHECKLIST.md)",
            RelatedLink("CHECKLIST.md", "./CHECKLIST.md", ""),
        ),
        (
            "Deployment checklist https://wiki.example/checklist - how we deploy",
            RelatedLink("Deployment checklist", "https://wiki.example/checklist", "how we deploy"),
        ),
        (
            "https://wiki.example/x",
            RelatedLink("https://wiki.example/x", "https://wiki.example/x", ""),
        ),
        ("Runbook /docs/runbook.md", RelatedLink("Runbook", "/docs/runbook.md", "")),
        # Characters that would end a Markdown destination or an attribute are encoded.
        (
            'Odd https://wiki.example/a(b)<c>"d`e\\f',
            RelatedLink("Odd", "https://wiki.example/a%28b%29%3Cc%3E%22d%60e%5Cf", ""),
        ),
    ],
)
def test_lines_are_parsed(line, expected):
    assert parse_line(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "[x](javascript:alert(1))",
        "[x](javascript:alert)",
        "click javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/protocol-relative",
        "[x](ftp://files.example/a)",
        "just words, no address",
        "https://",
    ],
)
def test_unsafe_or_addressless_lines_are_no_links(line):
    assert parse_line(line) is None
    with pytest.raises(ValidationError):
        validate_related_links(line)


def test_blank_lines_are_ignored_and_links_are_capped():
    text = "\n".join(f"Doc {n} https://wiki.example/{n}" for n in range(MAX_LINKS + 5))
    assert len(parse_related_links("\n\n" + text)) == MAX_LINKS
    validate_related_links("Doc https://wiki.example/\n\n   \n[B](./b.md)")
    with pytest.raises(ValidationError, match="At most"):
        validate_related_links(text)


@pytest.mark.django_db
def test_the_admin_names_a_line_without_an_address(staff_client):
    experiment = make_experiment()
    url = reverse("admin:catalog_experiment_change", args=[experiment.pk])
    data = {name: getattr(experiment, name) for name in Experiment.CURATED_FIELDS}

    data["related_links"] = "Checklist https://wiki.example/c\n[x](javascript:alert(1))"
    response = staff_client.post(url, data)
    assert response.status_code == 200
    assert "line 2: [x](javascript:alert(1))" in response.content.decode()

    data["related_links"] = "Checklist https://wiki.example/c\n[B](./b.md) - notes"
    data["specialized_domain"] = "Vibration Analysis"
    assert staff_client.post(url, data).status_code == 302
    experiment.refresh_from_db()
    assert [link.label for link in parse_related_links(experiment.related_links)] == [
        "Checklist",
        "B",
    ]
    assert experiment.specialized_domain == "Vibration Analysis"


@pytest.mark.django_db
def test_the_folder_page_shows_its_domain_and_related_documents(reader_client):
    experiment = make_experiment(
        specialized_domain="Vibration <b>Analysis</b>",
        related_links=(
            "Checklist https://wiki.example/c?a=1&b=2 - how we deploy\n"
            "[Changelog](./legacy/changelog.md)\n"
            "[x](javascript:alert(1))"
        ),
    )

    html = reader_client.get(experiment.get_absolute_url()).content.decode()

    assert "Specialized domain: <strong>Vibration &lt;b&gt;Analysis&lt;/b&gt;</strong>" in html
    assert (
        '<a href="https://wiki.example/c?a=1&amp;b=2" rel="noopener noreferrer">Checklist</a>'
        " – how we deploy" in html
    )
    # Relative to the exported page, not to this one: shown, not linked.
    assert "Changelog <code>.<wbr>/<wbr>legacy/<wbr>changelog.<wbr>md</code>" in html
    assert "javascript" not in html


@pytest.mark.django_db
def test_a_folder_without_curated_facts_has_no_related_section(reader_client):
    html = reader_client.get(make_experiment().get_absolute_url()).content.decode()
    assert '<section class="related">' not in html
