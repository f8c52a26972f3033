"""Name suggestions for the organization and supplier filters.

Names are ranked by trigram similarity (the pg_trgm GIN indexes from migration 0002), so
a misspelt "Departmnt of Educaton" still finds its agency.
"""

from __future__ import annotations

from django import forms
from django.contrib.postgres.search import TrigramSimilarity
from django.db.models import Q
from django.urls import reverse_lazy

from explorer.models import Organization, Supplier

FIELDS: dict[str, type[Organization] | type[Supplier]] = {"organization": Organization, "supplier": Supplier}
LIMIT = 10
MIN_LENGTH = 2
MIN_SIMILARITY = 0.3


def names(field: str, text: str, *, limit: int = LIMIT) -> list[str]:
    text = " ".join(text.split())[:100]
    if len(text) < MIN_LENGTH:
        return []
    entities = (
        FIELDS[field]
        .objects.annotate(similarity=TrigramSimilarity("name", text))
        .filter(Q(name__icontains=text) | Q(similarity__gte=MIN_SIMILARITY))
        .order_by("-similarity", "name")
    )
    return list(entities.values_list("name", flat=True)[:limit])


def unmatched(filters: dict[str, str], *, limit: int = 5) -> dict[str, list[str]]:
    """For each name filter naming no entity exactly, the names it probably meant: a search
    for a partial or misspelt name finds nothing, and the page offers these instead."""
    found = {}
    for field, model in FIELDS.items():
        value = filters.get(field)
        if value and not model.objects.filter(name=value).exists():
            found[field] = names(field, value, limit=limit)
    return found


class SuggestInput(forms.TextInput):
    """A text box that offers matching names from suggest_names as the analyst types."""

    suggest = True

    def __init__(self, field: str) -> None:
        super().__init__(
            attrs={
                "list": f"{field}-suggestions",
                "autocomplete": "off",
                "hx-get": reverse_lazy("explorer:suggest", args=[field]),
                "hx-trigger": "input changed delay:200ms",
                "hx-target": f"#{field}-suggestions",
                "hx-params": field,
                "hx-sync": "this:replace",
            }
        )
