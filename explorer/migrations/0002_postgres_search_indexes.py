"""The full-text and trigram search indexes (and the pg_trgm extension they need)."""

from __future__ import annotations

from django.db import migrations

INDEXES = [
    # Keyword search: `search_vector @@ websearch_to_tsquery(...)` in explorer/search.py.
    "CREATE INDEX IF NOT EXISTS award_search_vector ON explorer_award USING gin (search_vector)",
    # Name autocomplete and fuzzy name filters (explorer/search.py: suggest_names).
    "CREATE INDEX IF NOT EXISTS organization_name_trgm ON explorer_organization USING gin (name gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS supplier_name_trgm ON explorer_supplier USING gin (name gin_trgm_ops)",
]
DROP = ["award_search_vector", "organization_name_trgm", "supplier_name_trgm"]


def create(apps, schema_editor):  # type: ignore[no-untyped-def]
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for statement in INDEXES:
        schema_editor.execute(statement)


def drop(apps, schema_editor):  # type: ignore[no-untyped-def]
    for name in DROP:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("explorer", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
