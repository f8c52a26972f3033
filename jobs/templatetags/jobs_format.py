from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def duration(seconds: float | None) -> str:
    """12 s, 4 min, 1 h 05 min: how long something took or will take, for people."""
    if seconds is None or seconds == "":
        return ""
    seconds = max(0, round(float(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


@register.filter
def between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from one datetime to another (None if either is missing)."""
    if not start or not end:
        return None
    return (end - start).total_seconds()


@register.filter
def local_time(iso: str) -> str:
    """A history entry's ISO time (stored in UTC) as local date and time."""
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso)
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")
