"""Full-table text scan: a substring or a regular expression over chosen text fields.

Regular expressions run on RE2 (google-re2), which matches in time linear in the text:
a pattern like `(a+)+$` cannot backtrack catastrophically, and the features that would
need backtracking (backreferences, lookarounds) are refused when the scan is submitted.
Rows are read in primary-key ranges, so progress is real and each block is bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import re2
from django.conf import settings
from django.db.models import Max, Min, QuerySet

from explorer.models import Award

# name: (label, field path)
FIELDS = {
    "title": ("Award title", "title"),
    "notice_title": ("Notice title", "notice__title"),
    "organization": ("Procuring entity name", "organization__name"),
    "supplier": ("Supplier name", "supplier__name"),
    "reason": ("Award reason", "reason"),
    "unspsc": ("UNSPSC description", "unspsc_description"),
}
DEFAULT_FIELDS = ("title", "notice_title")
RE2_MAX_MEMORY = 64 << 20


class BadPattern(ValueError):
    pass


class BlockTooSlow(RuntimeError):
    pass


def matcher(pattern: str, *, regex: bool, case_sensitive: bool) -> Callable[[str], bool]:
    """A predicate for one text value; BadPattern (with a readable reason) if unusable."""
    if not regex:
        if case_sensitive:
            return lambda text: pattern in text
        needle = pattern.casefold()
        return lambda text: needle in text.casefold()
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False
    options.max_mem = RE2_MAX_MEMORY
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise BadPattern(
            f"This regular expression cannot be used ({reason}). Backreferences and lookarounds "
            "are not supported: they can make a scan run for hours."
        ) from None
    return lambda text: compiled.search(text) is not None


def scan_blocks(
    awards: QuerySet[Award], fields: list[str], match: Callable[[str], bool]
) -> Iterator[tuple[int, list[int]]]:
    """(rows scanned, ids matched) per block of SCAN_BLOCK_AWARDS primary keys, in id order."""
    awards = awards.order_by()
    bounds = awards.aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return
    paths = [FIELDS[name][1] for name in fields]
    block = settings.SCAN_BLOCK_AWARDS
    for start in range(bounds["low"], bounds["high"] + 1, block):
        started = time.monotonic()
        rows = awards.filter(id__gte=start, id__lt=start + block).values_list("id", *paths)
        matched = [row[0] for row in rows if any(text and match(text) for text in row[1:])]
        if time.monotonic() - started > settings.SCAN_BLOCK_SECONDS:
            raise BlockTooSlow(
                f"Scanning stopped: a block of {block:,} awards took more than "
                f"{settings.SCAN_BLOCK_SECONDS} s. Narrow the filters or simplify the pattern."
            )
        yield len(rows), matched
