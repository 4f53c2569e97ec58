# Written by hand: on PostgreSQL, ``catalog_artifact.key`` takes the "C" collation, so
# the natural key's index orders keys by code point, as S3 lists them and as SQLite
# (BINARY) and Python compare them. The sync reads a walk's rows in that order to merge
# them with the listing (ADR 0013); with the database's default collation (en_US and
# the like) it could not use the index and would sort the table for every page. The
# column stays a varchar of the same length, so the model and its state do not change.

from django.db import migrations

TABLE = "catalog_artifact"
KEY_TYPE = "varchar(1024)"  # catalog.models.S3_KEY_MAX_LENGTH


def key_collation(collation: str):
    def alter(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(
            f'ALTER TABLE {TABLE} ALTER COLUMN "key" TYPE {KEY_TYPE} COLLATE "{collation}"'
        )

    return alter


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0002_lean_indexes"),
    ]

    operations = [
        migrations.RunPython(key_collation("C"), key_collation("default")),
    ]
