"""The text scan: RE2 matching, blocks by primary key, and agreement with a Python scan."""

from __future__ import annotations

import re
import time

import pytest

from explorer import demo, scan
from explorer.models import Award

pytestmark = pytest.mark.django_db


def python_scan(pattern: str, *, regex: bool, case_sensitive: bool, fields: list[str]) -> set[int]:
    """The reference: Python's own re / str over the same fields."""
    paths = [scan.FIELDS[name][1] for name in fields]
    if regex:
        compiled = re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)
        test = lambda text: compiled.search(text) is not None  # noqa: E731
    elif case_sensitive:
        test = lambda text: pattern in text  # noqa: E731
    else:
        test = lambda text: pattern.casefold() in text.casefold()  # noqa: E731
    return {
        row[0]
        for row in Award.objects.values_list("id", *paths)
        if any(text and test(text) for text in row[1:])
    }


@pytest.mark.parametrize(
    ("pattern", "regex", "case_sensitive", "fields"),
    [
        ("supply", False, False, ["title", "notice_title"]),
        ("Supply", False, True, ["title"]),
        (r"\b(rice|fuel)\b", True, False, ["title", "notice_title"]),
        (r"^[A-Z]+ (HARDWARE|TRADING)", True, True, ["supplier"]),
        ("barangay", False, False, ["organization", "supplier", "reason", "unspsc"]),
    ],
)
def test_scan_finds_exactly_what_a_python_scan_finds(settings, pattern, regex, case_sensitive, fields):
    settings.SCAN_BLOCK_AWARDS = 100  # several blocks
    demo.seed(awards=700, seed=31)
    match = scan.matcher(pattern, regex=regex, case_sensitive=case_sensitive)

    blocks = list(scan.scan_blocks(Award.objects.all(), fields, match))

    found = {award_id for _, matched in blocks for award_id in matched}
    assert found == python_scan(pattern, regex=regex, case_sensitive=case_sensitive, fields=fields)
    assert found  # the cases are chosen to match something
    assert sum(rows for rows, _ in blocks) == Award.objects.count()
    assert len(blocks) >= 7


def test_scan_blocks_follow_the_search_filters(settings):
    settings.SCAN_BLOCK_AWARDS = 100
    demo.seed(awards=300, seed=32)
    some = Award.objects.filter(amount__gte=100_000)
    blocks = list(scan.scan_blocks(some, ["title"], lambda text: True))
    assert sum(rows for rows, _ in blocks) == some.count()
    assert {i for _, matched in blocks for i in matched} == set(some.values_list("id", flat=True))


def test_a_catastrophic_backtracking_pattern_runs_in_linear_time():
    match = scan.matcher(r"(a+)+$", regex=True, case_sensitive=True)
    text = "a" * 5000 + "!"  # Python's re takes exponential time on this
    started = time.perf_counter()
    assert match(text) is False
    assert match("aaaa") is True
    assert time.perf_counter() - started < 1  # a bound far above RE2's microseconds


@pytest.mark.parametrize("pattern", [r"(\w+) \1", r"foo(?=bar)", r"(?<!x)y", "[unclosed"])
def test_patterns_that_need_backtracking_or_are_broken_are_refused_with_a_reason(pattern):
    with pytest.raises(scan.BadPattern, match="cannot be used"):
        scan.matcher(pattern, regex=True, case_sensitive=False)


def test_a_substring_is_taken_literally():
    match = scan.matcher("a.b(", regex=False, case_sensitive=False)
    assert match("X A.B( Y")
    assert not match("axb(")


def test_an_empty_search_scans_nothing():
    assert list(scan.scan_blocks(Award.objects.none(), ["title"], lambda text: True)) == []
