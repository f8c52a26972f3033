from __future__ import annotations

from django import template

from explorer.indicators import INDICATORS

register = template.Library()


@register.filter
def indicator_label(code: str) -> str:
    indicator = INDICATORS.get(code)
    return indicator.label if indicator else code


@register.filter
def indicator_explanation(code: str) -> str:
    indicator = INDICATORS.get(code)
    return indicator.explanation if indicator else ""
