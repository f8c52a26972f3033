from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def php(amount: Decimal | float | None) -> str:
    """PHP 1,234,567.89: thousands separators, two decimals; a dash for no amount."""
    if amount is None or amount == "":
        return "—"
    return f"{Decimal(amount):,.2f}"


@register.filter
def share(part: Decimal | float | None, whole: Decimal | float | None) -> float:
    """part / whole as a percentage for bar widths (0 when either is missing)."""
    if not part or not whole:
        return 0.0
    return round(float(part) * 100 / float(whole), 1)
