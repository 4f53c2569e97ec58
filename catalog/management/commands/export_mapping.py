"""``manage.py export_mapping``: write the seed page regenerated from the catalogue."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.mapping import render_mapping_markdown


class Command(BaseCommand):
    help = "Print (or write to --output) the S3 artifact mapping page as Markdown."

    def add_arguments(self, parser):
        parser.add_argument("--output", "-o", help="Write to this file instead of stdout.")

    def handle(self, *args, output=None, **options):
        markdown = render_mapping_markdown()
        if not output:
            self.stdout.write(markdown, ending="")
            return
        path = Path(output)
        if not path.parent.is_dir():
            raise CommandError(f"No such directory: {path.parent}")
        path.write_text(markdown, encoding="utf-8")
        self.stderr.write(f"Wrote {len(markdown)} characters to {path}")
