"""Trigram indexes behind the search page, on PostgreSQL only.

Search matches every word anywhere in names, tags and params (``icontains``, which
PostgreSQL runs as ``UPPER(col::text) LIKE UPPER('%word%')``): no b-tree can serve
that, so on a catalogue of 100,000 runs each word was a scan of the whole table. A
``pg_trgm`` GIN index on the very expression the query compares (``UPPER(name)``,
``UPPER(tags::text)``, ...) lets the planner answer from the index. SQLite has no
such index (it scans, fast enough at the sizes SQLite serves), so the operations
below do nothing there and the migration state holds no index: the models' ``Meta``
stays the same on both databases and ``makemigrations --check`` stays clean.

Artifact keys get no trigram index on purpose: the first sync inserts millions of
them and would pay for every trigram of every key; the search page scans keys only
for path-like queries on large catalogues (``catalog.selectors.search``).
"""

from django.db import migrations

# (table, index name, expression): each expression exactly as the search selector's
# lookups compile it (Django's icontains on PostgreSQL is ``UPPER(<lhs>::text)``; a
# text-to-text cast is no cast, so ``UPPER(name)`` is that expression for a text column).
SEARCH_INDEXES = (
    ("catalog_run", "run_name_trgm", 'UPPER("name")'),
    ("catalog_run", "run_tags_trgm", 'UPPER(("tags")::text)'),
    ("catalog_run", "run_params_trgm", 'UPPER(("params")::text)'),
    ("catalog_experiment", "experiment_name_trgm", 'UPPER("name")'),
    ("catalog_registeredmodel", "registered_model_name_trgm", 'UPPER("name")'),
    ("catalog_registeredmodel", "registered_model_tags_trgm", 'UPPER(("tags")::text)'),
)


def create_search_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, index_name, expression in SEARCH_INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{index_name}" ON "{table}" '
            f"USING gin (({expression}) gin_trgm_ops)"
        )


def drop_search_indexes(apps, schema_editor):
    # The extension stays: other objects of the database may use it.
    if schema_editor.connection.vendor != "postgresql":
        return
    for _table, index_name, _expression in SEARCH_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{index_name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0007_mirrored_text_limits"),
    ]

    operations = [
        # Not django.contrib.postgres's TrigramExtension: its reverse queries pg_extension
        # whatever the database, so SQLite could not migrate back past this migration.
        migrations.RunPython(create_search_indexes, drop_search_indexes, elidable=False),
    ]
