from __future__ import annotations

import pytest
from django.urls import reverse

from explorer import demo

pytestmark = pytest.mark.django_db


def test_search_page_requires_login(client):
    response = client.get(reverse("explorer:search"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_search_page_lists_awards(alice_client, django_assert_max_num_queries):
    demo.seed(awards=120, seed=1)

    with django_assert_max_num_queries(6):
        response = alice_client.get(reverse("explorer:search"))

    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("<tr>") >= 50
