"""The ocid of a contracting process (explorer/ocds.py)."""

from __future__ import annotations

import uuid

from explorer.ocds import ocid


def test_a_notice_with_a_reference_number_is_prefix_dash_reference(settings):
    settings.OCDS_OCID_PREFIX = "ocds-abc123"
    assert ocid(reference_number="11223344", key=uuid.uuid4()) == "ocds-abc123-11223344"


def test_a_notice_without_one_gets_its_stable_key_behind_n(settings):
    settings.OCDS_OCID_PREFIX = "ocds-abc123"
    key = uuid.UUID("0123456789abcdef0123456789abcdef")
    assert ocid(reference_number="", key=key) == "ocds-abc123-n0123456789abcdef0123456789abcdef"
    assert ocid(reference_number="", key=key.hex) == ocid(reference_number="", key=str(key))
