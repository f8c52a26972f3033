"""Open Contracting Data Standard identity: the ocid of a contracting process (a notice).

`ocid = OCDS_OCID_PREFIX + "-" + Bid Reference No.` (REFERENCE.md section 7). Notices
without a reference number (most negotiated and direct modes) are keyed by their award
number or by a fingerprint of their columns (explorer/philgeps.py notice_key); they get
`-n` and their 32-digit natural key instead, which no reference number (digits only) can
equal, and which stays the same across re-imports and rebuilds.
"""

from __future__ import annotations

from uuid import UUID

from django.conf import settings


def ocid(*, reference_number: str, key: UUID | str) -> str:
    """The ocid of the notice with this reference number (may be blank) and natural key."""
    prefix = settings.OCDS_OCID_PREFIX
    if reference_number:
        return f"{prefix}-{reference_number}"
    hex_key = key.hex if isinstance(key, UUID) else str(key).replace("-", "")
    return f"{prefix}-n{hex_key}"
