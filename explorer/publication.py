"""The published OCDS bulk files: the whole database and one file per year.

`publish()` (the nightly beat task jobs.tasks.publish_ocds) reads every notice once and
writes `philgeps-ocds-all.zip` and `philgeps-ocds-<year>.zip` (by the year of the
release date) into OCDS_PUBLISH_ROOT, each an explorer/ocds_bulk.py ZIP, and
`index.json` describing them. Each file is written under a temporary name and renamed
over the old one when complete, so the stable URL /data/ocds/<name> (explorer/views.py
data_file) always serves a whole file; its Last-Modified is the file's modification
time, which the rename sets to when it was written. Files of years no longer in the
database are removed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from explorer import ocds, ocds_bulk
from explorer.models import Notice

ALL_NAME = "philgeps-ocds-all.zip"
NAME = re.compile(r"philgeps-ocds-(all|[0-9]{4})\.zip")
INDEX = "index.json"


def year_name(year: str) -> str:
    return f"philgeps-ocds-{year}.zip"


def file_url(name: str) -> str:
    return ocds.site_url(reverse("explorer:data-file", args=[name]))


def publish(root: Path | None = None) -> dict[str, Any]:
    """Write every file; returns (and stores as index.json) what was written."""
    root = Path(root or settings.OCDS_PUBLISH_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    published = timezone.now()
    token = f".{os.getpid()}.tmp"
    writers: dict[str, ocds_bulk.BulkWriter] = {}

    def writer(name: str) -> ocds_bulk.BulkWriter:
        if name not in writers:
            path = root / (name + token)
            writers[name] = ocds_bulk.BulkWriter(path, uri=file_url(name), published=published)
        return writers[name]

    try:
        writer(ALL_NAME)
        for release in ocds.releases(ocds.notice_ids(Notice.objects.all())):
            writers[ALL_NAME].add(release)
            writer(year_name(release.day[:4])).add(release)
        counts = {name: w.close() for name, w in writers.items()}
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    files = []
    for name in sorted(counts, key=lambda n: (n != ALL_NAME, n)):
        (root / (name + token)).replace(root / name)
        c = counts[name]
        files.append(
            {
                "name": name,
                "year": None if name == ALL_NAME else name[len("philgeps-ocds-") : -len(".zip")],
                "releases": c.releases,
                "awards": c.awards,
                "packages": len(c.packages),
                "size": (root / name).stat().st_size,
            }
        )
    for stale in root.iterdir():
        if NAME.fullmatch(stale.name) and stale.name not in counts:
            stale.unlink()
    index = {"published": published.isoformat(timespec="seconds"), "files": files}
    temporary = root / (INDEX + token)
    temporary.write_text(json.dumps(index, indent=1))
    temporary.replace(root / INDEX)
    return index


def published_files() -> dict[str, Any]:
    """What the last publish() wrote (index.json), or no files yet."""
    try:
        return json.loads((Path(settings.OCDS_PUBLISH_ROOT) / INDEX).read_text())
    except (OSError, ValueError):
        return {"published": None, "files": []}


def path_of(name: str) -> Path | None:
    """The published file of this name, if it exists (only names publish() writes)."""
    if not NAME.fullmatch(name):
        return None
    path = Path(settings.OCDS_PUBLISH_ROOT) / name
    return path if path.is_file() else None
