"""Chunked, resumable uploads of PhilGEPS files from the import page (staff).

A file of up to IMPORT_MAX_UPLOAD_MB would have to pass through the web server as one
request body; instead the page sends it as octet-stream chunks of at most
UPLOAD_CHUNK_BYTES, each appended to a partial file, so no request holds more than one
chunk (config/server.py refuses a larger body). Each chunk names the offset it starts at:
a chunk for an offset already passed (a retry after a lost answer) is refused with the
current offset, so retrying is harmless and the page resumes where the file ends. The
final call runs the import page's checks (imports.check_content) on the whole file and
hands it over as an ordinary stored upload for the import job.

On disk, under UPLOAD_ROOT/incoming/: `<id>.part` (the bytes so far; its size is the
offset) and `<id>.json` (owner, the client's file name, the declared size). Partial
uploads that received nothing for UPLOAD_ORPHAN_SECONDS are swept with orphaned uploads.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User

from jobs import services
from jobs.kinds import imports
from jobs.models import Job

UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
COPY_BLOCK = 64 * 1024


class UploadGone(Exception):
    """No such upload for this user (unknown, another user's, finished or swept)."""


class OffsetMismatch(Exception):
    """The chunk does not start where the partial file ends; `offset` is where it does."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"The upload continues at byte {offset}.")
        self.offset = offset


class UploadBusy(Exception):
    """Another request is appending to this upload right now."""


def incoming_dir() -> Path:
    return Path(settings.UPLOAD_ROOT) / "incoming"


@dataclass(frozen=True)
class Upload:
    id: str
    owner_id: int
    name: str
    size: int
    suffix: str

    @property
    def part(self) -> Path:
        return incoming_dir() / f"{self.id}.part"

    @property
    def meta(self) -> Path:
        return incoming_dir() / f"{self.id}.json"

    @property
    def received(self) -> int:
        return self.part.stat().st_size


def start(*, user: User, name: str, size: int) -> Upload:
    """A new, empty upload of `size` bytes, after the checks that need no content."""
    imports.check_size(size)
    suffix = imports.check_name(name)
    if size <= 0:
        raise imports.UploadRefused("The file is empty.")
    upload = Upload(
        id=uuid.uuid4().hex, owner_id=user.pk, name=Path(name).name[-200:], size=size, suffix=suffix
    )
    incoming_dir().mkdir(parents=True, exist_ok=True)
    upload.part.touch(exist_ok=False)
    fields = {"owner": upload.owner_id, "name": upload.name, "size": upload.size, "suffix": upload.suffix}
    upload.meta.write_text(json.dumps(fields))
    return upload


def get(*, user: User, upload_id: str) -> Upload:
    """The user's own unfinished upload, or UploadGone (another user's looks like none)."""
    if not UPLOAD_ID.fullmatch(upload_id):
        raise UploadGone(upload_id)
    try:
        fields = json.loads((incoming_dir() / f"{upload_id}.json").read_text())
    except (OSError, ValueError):
        raise UploadGone(upload_id) from None
    upload = Upload(
        id=upload_id,
        owner_id=fields["owner"],
        name=fields["name"],
        size=fields["size"],
        suffix=fields["suffix"],
    )
    if upload.owner_id != user.pk or not upload.part.is_file():
        raise UploadGone(upload_id)
    return upload


def append(*, upload: Upload, offset: int, length: int, read: Callable[[int], bytes]) -> int:
    """Append one chunk of `length` bytes (read with `read(n)`) at `offset`; the new offset.

    The chunk is written whole or not at all: a failure part-way truncates the file back.
    """
    if length <= 0:
        raise imports.UploadRefused("The chunk is empty.")
    try:
        handle = open(upload.part, "r+b")  # noqa: SIM115 (held across the lock below)
    except FileNotFoundError:
        raise UploadGone(upload.id) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UploadBusy(upload.id) from None
        current = os.fstat(handle.fileno()).st_size
        if offset != current:
            raise OffsetMismatch(current)
        if offset + length > upload.size:
            raise imports.UploadRefused(
                f"The chunk ends past the size announced for the file ({upload.size:,} bytes)."
            )
        handle.seek(offset)
        try:
            left = length
            while left:
                block = read(min(COPY_BLOCK, left))
                if not block:
                    raise imports.UploadRefused("The chunk arrived incomplete; send it again.")
                handle.write(block)
                left -= len(block)
            handle.flush()
        except BaseException:
            handle.truncate(offset)
            raise
        return offset + length


def complete(*, upload: Upload) -> str:
    """Check the whole file and store it for an import job: its stored name.

    A refused file is deleted (imports.UploadRefused says why); either way the partial
    upload is gone afterwards, except when the file is simply not complete yet.
    """
    received = upload.received
    if received != upload.size:
        raise OffsetMismatch(received)
    stored = f"{upload.id}{upload.suffix}"
    path = imports.upload_path(stored)
    os.replace(upload.part, path)
    upload.meta.unlink(missing_ok=True)
    try:
        imports.check_content(path, upload.suffix)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return stored


def discard(*, upload: Upload) -> None:
    upload.part.unlink(missing_ok=True)
    upload.meta.unlink(missing_ok=True)


def remove_stale(*, older_than: float) -> int:
    """Delete partial uploads that received nothing for `older_than` seconds."""
    directory = incoming_dir()
    if not directory.is_dir():
        return 0
    cutoff = time.time() - older_than
    removed = 0
    for part in directory.glob("*.part"):
        try:
            stale = part.stat().st_mtime < cutoff
        except FileNotFoundError:
            continue  # completed meanwhile
        if stale:
            part.unlink(missing_ok=True)
            part.with_suffix(".json").unlink(missing_ok=True)
            removed += 1
    # A description whose partial file is gone (a crash between the two deletes).
    for meta in directory.glob("*.json"):
        if not meta.with_suffix(".part").exists() and meta.stat().st_mtime < cutoff:
            meta.unlink(missing_ok=True)
    return removed


def submit_import(*, user: User, stored: str, name: str) -> Job:
    """Start the import job of a stored upload. The file is deleted if the job is refused
    (services.TooManyJobs, services.InvalidParams): no job will ever read it."""
    try:
        job, _ = services.submit_job(
            user=user, kind=imports.KIND.name, params={"upload": stored, "name": name[-200:]}
        )
    except (services.TooManyJobs, services.InvalidParams):
        imports.upload_path(stored).unlink(missing_ok=True)
        raise
    return job
