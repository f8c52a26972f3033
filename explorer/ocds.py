"""Open Contracting Data Standard identity: the ocid of a contracting process (a notice).

`ocid = OCDS_OCID_PREFIX + "-" + Bid Reference No.` (REFERENCE.md section 7). Notices
without a reference number (most negotiated and direct modes) are keyed by their award
number or by a fingerprint of their columns (explorer/philgeps.py notice_key); they get
`-n` and their 32-digit natural key instead, which no reference number (digits only) can
equal, and which stays the same across re-imports and rebuilds.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

from django.conf import settings


def ocid(*, reference_number: str, key: UUID | str) -> str:
    """The ocid of the notice with this reference number (may be blank) and natural key."""
    prefix = settings.OCDS_OCID_PREFIX
    if reference_number:
        return f"{prefix}-{reference_number}"
    hex_key = key.hex if isinstance(key, UUID) else str(key).replace("-", "")
    return f"{prefix}-n{hex_key}"


def party_id(role_scope: str, name: str) -> str:
    """A stable OCDS party id from an organisation's name (never its random public id).

    `role_scope` is "org" for procuring entities and "sup" for suppliers/tenderers: the same
    name on both sides stays two parties only if PhilGEPS lists it so. Stable across files
    and rebuilds, as Cardinal groups by it.
    """
    digest = hashlib.sha256(" ".join(name.upper().split()).encode()).hexdigest()[:16]
    return f"PH-PGEPS-{role_scope}-{digest}"
