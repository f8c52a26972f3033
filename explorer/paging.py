"""The search page's place in a result: First, Previous and Next links and the position
("1,001-1,050 of 5,913").

Pages are keyset pages (explorer/search.py): Next follows the last row of the page
(`after`), Previous ends just before its first row (`before`, the same query in reverse).
A cursor carries no position, so each link also says the number of the page it leads to
(`page`); the position is only shown when it is known. The cursor is not a filter: any
change of filters starts from the first page again (Search.url writes no cursor unless
asked), so a new search typed on page 2 never starts mid-list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db.models import QuerySet

from explorer import facets
from explorer.models import Award
from explorer.search import PAGE_SIZE, Search, cursor_of, keyset_page, keyset_page_before

MAX_PAGE = 10**7


@dataclass(frozen=True)
class Place:
    """Where in the result the URL points: a cursor, the page number, the facet shown in full."""

    after: str = ""
    before: str = ""
    page: int = 0  # 0: not known (a link from before page numbers were written)
    more: str = ""

    def state(self) -> dict[str, str]:
        """The URL parameters that keep this place (search_url's `state`)."""
        cursor = {"after": self.after} if self.after else {"before": self.before} if self.before else {}
        number = {"page": str(self.page)} if cursor and self.page else {}
        return {**cursor, **number, **({"more": self.more} if self.more else {})}


def place(query: Mapping[str, str], *, search: Search) -> Place:
    """The place a query string names; nonsense page numbers and facet names are ignored,
    a broken cursor is refused later by the keyset query (BadCursor)."""
    after, before = query.get("after", ""), query.get("before", "")
    if search.sort == "relevance":
        before = ""  # relevance pages are numbered: `after` is the page index
    if after:
        before = ""
    raw_page = query.get("page", "")
    page = int(raw_page) if raw_page.isascii() and raw_page.isdigit() and 0 < int(raw_page) <= MAX_PAGE else 0
    more = query.get("more", "")
    return Place(after=after, before=before, page=page, more=more if more in facets.facet_names() else "")


@dataclass
class Pager:
    search: Search
    rows: list[Award] = field(default_factory=list)
    number: int = 0  # this page's number, 0 when not known
    next_url: str = ""
    previous_url: str = ""
    first_url: str = ""  # empty on the first page
    total: int | None = None  # the result's exact size, when counted
    size: int = PAGE_SIZE

    @property
    def start(self) -> int:
        return (self.number - 1) * self.size + 1 if self.number and self.rows else 0

    @property
    def end(self) -> int:
        return self.start + len(self.rows) - 1 if self.start else 0


def page(
    awards: QuerySet[Award], *, search: Search, place: Place, small: bool, size: int = PAGE_SIZE
) -> Pager:
    """The page of `awards` (the result of `search`) at `place`, with its links."""
    pager = Pager(search=search, size=size)
    next_cursor = ""
    if search.sort == "relevance":
        pager.rows, next_cursor = keyset_page(
            awards, search=search, after=place.after, size=size, small=small
        )
        index = int(place.after) if place.after else 0  # validated by keyset_page
        pager.number = index + 1
        if next_cursor:
            pager.next_url = search.url(after=next_cursor, page=str(index + 2))
        if index:
            pager.first_url = search.url()
            pager.previous_url = (
                search.url(after=str(index - 1), page=str(index)) if index > 1 else search.url()
            )
        return pager
    if place.before:
        pager.rows, earlier = keyset_page_before(
            awards, search=search, before=place.before, size=size, small=small
        )
        number = place.page if earlier else 1
    else:
        pager.rows, next_cursor = keyset_page(
            awards, search=search, after=place.after, size=size, small=small
        )
        earlier = bool(place.after)
        number = place.page if place.after else 1
    pager.number = number
    if not pager.rows:
        pager.first_url = search.url() if earlier else ""
        return pager
    # A Previous page always has a Next one: the page it was reached from.
    following = cursor_of(pager.rows[-1], search=search) if place.before else next_cursor
    if following:
        pager.next_url = search.url(after=following, **_numbered(number + 1 if number else 0))
    if earlier:
        pager.first_url = search.url()
        if number == 2:
            pager.previous_url = search.url()
        else:
            pager.previous_url = search.url(
                before=cursor_of(pager.rows[0], search=search), **_numbered(number - 1 if number else 0)
            )
    return pager


def _numbered(number: int) -> dict[str, str]:
    return {"page": str(number)} if number > 0 else {}
