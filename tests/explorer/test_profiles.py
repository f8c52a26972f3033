"""Risk profiles on the organization and supplier pages: components against peers of
similar size, the composite screening score, links to the awards behind each number."""

from __future__ import annotations

import random
import re
from html import unescape

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from explorer import profiles, tasks
from explorer.analyses import screens
from explorer.models import Award, Organization, PeerBaseline, RiskProfile, Supplier
from tests.explorer.constructed import add_awards
from tests.explorer.test_report_v2 import _count, _peer_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def constructed():
    add_awards(_peer_rows(random.Random(3)))
    add_awards([("TINY AGENCY", "S", 1000.0, "Public Bidding", None)] * 3)
    cache.delete(tasks.LOCK)
    yield
    cache.delete(tasks.LOCK)


def _profile(name: str) -> RiskProfile:
    return RiskProfile.objects.get(kind="organization", entity_id=Organization.objects.get(name=name).pk)


def test_profiles_rank_the_planted_entities_against_their_peers(constructed):
    baseline = profiles.refresh()

    assert baseline.awards == Award.objects.count()
    direct = _profile("OUTLIER DIRECT")
    assert direct.components["noncompetitive"]["count"] == 36
    assert direct.components["noncompetitive"]["flag"]
    assert direct.components["noncompetitive"]["percentile"] > 0.95
    assert direct.components["noncompetitive"]["score"] < 5
    assert _profile("OUTLIER DECEMBER").components["year_end"]["flag"]
    assert _profile("CAPTIVE AGENCY").components["winner_share"]["value"] == pytest.approx(1.0)
    ordinary = [_profile(f"AGENCY {i}") for i in range(30)]
    flagged_ordinary = [p for p in ordinary for c in p.components.values() if c["flag"]]
    assert len(flagged_ordinary) <= 3  # of 30 x 5 components, by chance at most a few
    # The composite is the mean of the component scores.
    scores = [c["score"] for c in direct.components.values() if c["score"] is not None]
    assert direct.score == pytest.approx(sum(scores) / len(scores))
    assert direct.score < sorted(p.score for p in ordinary)[len(ordinary) // 2]
    # Figures equal the report's peer screens over the same awards.
    measured = {(r["kind"], r["name"]): r for r in screens.measure(Award.objects.all())}
    assert direct.components["year_end"]["count"] == measured[("organization", "OUTLIER DIRECT")]["dec_n"]
    assert not RiskProfile.objects.filter(entity_id=Organization.objects.get(name="TINY AGENCY").pk).exists()


def test_the_entity_page_shows_the_profile_with_links_to_the_awards_behind_each_number(
    client, alice, constructed
):
    profiles.refresh()
    client.force_login(alice)
    entity = Organization.objects.get(name="OUTLIER DIRECT")

    with CaptureQueriesContext(connection) as queries:
        html = client.get(f"/organizations/{entity.public_id}/").content.decode()

    # The profile costs two indexed reads, whatever the size of the table.
    read = [
        q["sql"] for q in queries.captured_queries if "riskprofile" in q["sql"] or "peerbaseline" in q["sql"]
    ]
    assert len(read) == 2

    section = html[html.index('id="risk-profile"') :]
    section = section[: section.index("</section>")]
    assert "Risk profile (screening)" in section
    assert f">{round(_profile('OUTLIER DIRECT').score)}<" in section
    links = [unescape(u) for u in re.findall(r'href="([^"]+)"', section)]
    noncompetitive = next(u for u in links if "method=noncompetitive" in u)
    query = dict(pair.split("=", 1) for pair in noncompetitive.split("?", 1)[1].split("&"))
    from urllib.parse import unquote_plus

    filters = {k: unquote_plus(v) for k, v in query.items()}
    assert _count(filters) == 36
    assert "above fence" in section


def test_a_supplier_page_has_its_profile_and_a_small_entity_says_why_it_has_none(client, alice, constructed):
    profiles.refresh()
    client.force_login(alice)
    supplier = Supplier.objects.get(name="THE ONLY SUPPLIER")
    html = client.get(f"/suppliers/{supplier.public_id}/").content.decode()
    assert "Risk profile (screening)" in html
    assert "Winner&#x27;s share of the buyer&#x27;s yearly spend" in html

    tiny = Organization.objects.get(name="TINY AGENCY")
    html = client.get(f"/organizations/{tiny.public_id}/").content.decode()
    assert "No profile: fewer than 20 awards" in html


def test_without_profiles_the_page_asks_for_one_refresh_and_the_task_computes_them(
    client, alice, constructed
):
    client.force_login(alice)
    entity = Organization.objects.get(name="OUTLIER DIRECT")
    assert not PeerBaseline.objects.exists()

    html = client.get(f"/organizations/{entity.public_id}/").content.decode()

    assert "being computed in the background" in html
    assert cache.get(tasks.LOCK) == 1  # queued once ...
    assert tasks.request_refresh() is False  # ... and not again while it waits
    assert tasks.refresh_profiles() == Award.objects.count()
    assert cache.get(tasks.LOCK) is None
    assert _profile("OUTLIER DIRECT").components["noncompetitive"]["flag"]


def test_indicator_flag_shares_are_components_of_the_profile_with_their_search(client, alice, constructed):
    from explorer.indicators import CODES

    code = CODES[0]
    heavy = list(Award.objects.filter(organization__name="AGENCY 7").values_list("pk", flat=True)[:25])
    Award.objects.filter(pk__in=heavy).update(flags=[code])
    profiles.refresh()

    component = _profile("AGENCY 7").components[f"indicator_{code}"]
    assert component["count"] == 25
    assert component["flag"]
    assert component["score"] < 5
    client.force_login(alice)
    entity = Organization.objects.get(name="AGENCY 7")
    html = client.get(f"/organizations/{entity.public_id}/").content.decode()
    assert f"flag={code}" in html
