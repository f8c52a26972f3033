"""The `flag` filter returns exactly the awards whose process, award or supplier carries
the indicator (against a direct query on the stored results), on the search page, in the
API and in an export; the facet counts it; the pages show it with its evidence."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re

import pytest
from django.db import connection

from explorer import demo, ocds
from explorer.indicators import engine
from explorer.models import Award, Notice
from tests.explorer.test_indicators import PB, SVP, D, award, notice, org
from tests.jobs.helpers import api_submit

pytestmark = pytest.mark.django_db(transaction=True)

AWARD_LINK = re.compile(r'href="/awards/([0-9a-f-]{36})/"')


def direct(codes: list[str]) -> set[str]:
    """Public ids of awards carrying every code, straight from the results table."""
    sets = []
    for code in codes:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT a.public_id::text FROM explorer_award a WHERE EXISTS "
                "(SELECT 1 FROM explorer_indicatorresult r "
                "WHERE r.code = %s AND (r.award_id = a.id OR (r.scope = "
                "'process' AND r.notice_id = a.notice_id) "
                "OR (r.scope = 'supplier' AND r.supplier_id = a.supplier_id)))",
                [code],
            )
            sets.append({row[0] for row in cursor.fetchall()})
    return set.intersection(*sets)


@pytest.fixture
def flagged():
    demo.seed(awards=400, seed=5)
    for i in range(6):  # short submission periods (R003), some above their ABC too (PH01)
        n = notice(closing=D + dt.timedelta(days=2), abc="1000")
        award(n, amount="1500" if i % 2 else "500", day=D + dt.timedelta(days=20))
    entity = org("SPLIT CITY")
    for day in (0, 10):
        when = D + dt.timedelta(days=day)
        award(notice(mode=SVP, entity=entity), who="PAPER CO", amount="700000", day=when, unspsc="14111507")
    notice(mode=PB, status="Failed", closing=D + dt.timedelta(days=1))  # a process without awards
    engine.compute_all()


def page_ids(client, url: str) -> set[str]:
    ids: set[str] = set()
    while url:
        response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        ids |= set(AWARD_LINK.findall(body))
        nxt = re.search(r'href="([^"]+)"[^>]*rel="next"', body)
        url = nxt.group(1).replace("&amp;", "&") if nxt else ""
    return ids


@pytest.mark.parametrize("codes", [["R003"], ["PH01"], ["PH03"], ["R003", "PH01"]])
def test_the_search_page_returns_exactly_the_flagged_awards(alice_client, flagged, codes):
    want = direct(codes)
    assert want
    assert page_ids(alice_client, f"/?flag={','.join(codes)}") == want


def test_the_facet_counts_each_flag_and_rows_carry_badges(alice_client, flagged):
    body = alice_client.get("/").content.decode()
    for code in ("R003", "PH01", "PH03"):
        count = re.search(rf'\?flag={code}"[^>]*>{code} [^<]*</a> <span class="count">([0-9,]+)</span>', body)
        assert count, code
        assert int(count.group(1).replace(",", "")) == len(direct([code]))
    filtered = alice_client.get("/?flag=PH03").content.decode()
    assert 'data-flag="PH03"' in filtered


def test_unknown_codes_are_a_400_with_the_field_named(alice_client, flagged):
    response = alice_client.get("/?flag=R999")
    assert response.status_code == 400
    assert "Unknown indicator code R999" in response.content.decode()
    api = api_submit(alice_client, "export", format="csv", filters={"flag": ["R003", "NOPE"]})
    assert api.status_code == 400
    assert "NOPE" in json.dumps(api.json()["fields"])


@pytest.mark.parametrize("value", [["R003", "PH01"], "PH01,R003"])
def test_an_export_through_the_api_holds_exactly_the_flagged_awards(
    alice, alice_client, flagged, settings, tmp_path, value
):
    from jobs import execution
    from jobs.models import Job

    settings.EXPORT_ROOT = tmp_path
    response = api_submit(alice_client, "export", format="csv", filters={"flag": value})
    assert response.status_code == 201, response.content
    assert response.json()["params"]["filters"] == {"flag": "R003,PH01"}
    job_id = response.json()["id"]
    execution.execute(job_id, redelivered=False, worker="inline")
    job = Job.objects.get(pk=job_id)
    rows = list(csv.reader(io.StringIO(job.file.read_text(encoding="utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[-2:] == ["Indicators", "Explorer award id"]
    assert {row[-1] for row in body} == direct(["R003", "PH01"])
    assert all({"R003", "PH01"} <= set(row[-2].split()) for row in body)


def test_award_and_notice_pages_show_the_indicators_with_evidence(alice_client, flagged):
    flagged_award = Award.objects.filter(flags__contains=["PH01"]).select_related("notice").first()
    body = alice_client.get(f"/awards/{flagged_award.public_id}/").content.decode()
    assert 'data-flag="PH01"' in body
    assert "abc" in body
    assert f'href="/notices/{flagged_award.notice.key}/"' in body
    page = alice_client.get(f"/notices/{flagged_award.notice.key}/").content.decode()
    assert 'data-flag="R003"' in page
    assert "threshold" in page
    assert flagged_award.public_id.hex[:8] in page.replace("-", "")
    ocid = ocds.ocid(reference_number=flagged_award.notice.reference_number, key=flagged_award.notice.key)
    assert f'href="/api/ocds/releases/{ocid}/"' in page


def test_notices_without_awards_are_findable(alice_client, flagged):
    failed = Notice.objects.get(status="Failed")
    body = alice_client.get("/notices/?without_awards=on&status=Failed").content.decode()
    assert f"/notices/{failed.key}/" in body
    assert alice_client.get(f"/notices/{failed.key}/").status_code == 200
    body = alice_client.get("/notices/?flag=R003").content.decode()
    listed = set(re.findall(r'href="/notices/([0-9a-f-]{36})/"', body))
    assert listed == {
        str(k) for k in Notice.objects.filter(flags__contains=["R003"]).values_list("key", flat=True)
    }
    assert alice_client.get("/notices/?flag=BAD").status_code == 400
