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
