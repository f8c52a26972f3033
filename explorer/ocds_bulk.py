"""OCDS bulk files: a ZIP of release packages and `compiled-releases.jsonl`.

Release packages are split at PACKAGE_MAX_AWARDS awards or PACKAGE_MAX_BYTES bytes
(OCDS bulk guidance: at most 250,000 awards or 1 GB per package), named
`releases-0001.json`, `releases-0002.json`, ...; `compiled-releases.jsonl` holds one
compiled release per line (what Cardinal and the OCP Data Registry read). Each release
comes from PostgreSQL as JSON text (explorer/ocds.py) and is written as it is made, so
memory stays flat (see BulkWriter for how the two members are written at once).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import queue
import struct
import threading
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from explorer import ocds

PACKAGE_MAX_AWARDS = 250_000
PACKAGE_MAX_BYTES = 1_000_000_000
COMPILED_NAME = "compiled-releases.jsonl"
# Level 1 deflate: JSON still shrinks ~8x, at several times the speed of the default 6.
COMPRESS_LEVEL = 1


@dataclass
class Counts:
    releases: int = 0
    awards: int = 0
    packages: list[str] = field(default_factory=list)


class _Sink:
    """Writes chunks to one open ZIP member (or none) in a thread of its own: zlib lets go
    of the GIL while it compresses, so compression overlaps the mapping of the next
    releases. Chunks are queued in order; a bounded queue keeps memory flat."""

    CHUNK = 1 << 18

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.Queue(maxsize=32)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ocds-zip", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (task := self._queue.get()) is not None:
            if self._error is None:
                try:
                    task[0](*task[1])
                except BaseException as exc:
                    self._error = exc

    def call(self, function: Callable[..., Any], *args: Any) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((function, args))

    def finish(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


class _Buffered:
    """One ZIP member, opened, written and closed in the sink's thread (a ZipFile takes
    one open member at a time, so the next may open only after this one closed there);
    chunks are handed over about CHUNK bytes at a time."""

    def __init__(self, sink: _Sink, opener: Callable[[], IO[bytes]]) -> None:
        self.sink = sink
        self.member: IO[bytes] | None = None
        self.parts: list[bytes] = []
        self.size = 0
        sink.call(self._open, opener)

    def _open(self, opener: Callable[[], IO[bytes]]) -> None:
        self.member = opener()

    def _write(self, data: bytes) -> None:
        assert self.member is not None
        self.member.write(data)

    def _close(self) -> None:
        assert self.member is not None
        self.member.close()

    def write(self, data: bytes) -> None:
        self.parts.append(data)
        self.size += len(data)
        if self.size >= _Sink.CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.sink.call(self._write, b"".join(self.parts))
            self.parts, self.size = [], 0

    def close(self) -> None:
        self.flush()
        self.sink.call(self._close)


class BulkWriter:
    """Writes one ZIP; `add(release, awards)` for each release, then `close()`.

    The package members are compressed into the ZIP as they are written; the JSON lines
    into a member of a second, temporary ZIP at the same time, whose compressed bytes
    are copied into the first at the end (a ZIP takes one member at a time, and this
    compresses every byte once).
    """

    def __init__(
        self,
        path: Path,
        *,
        uri: str,
        published: dt.datetime,
        max_awards: int = PACKAGE_MAX_AWARDS,
        max_bytes: int = PACKAGE_MAX_BYTES,
    ) -> None:
        self.path = path
        self.uri = uri.rstrip("/")
        self.published = published
        self.max_awards = max_awards
        self.max_bytes = max_bytes
        self.counts = Counts()
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
        self._compiled_path = path.with_name(path.name + ".compiled.tmp")
        self._compiled_zip = zipfile.ZipFile(
            self._compiled_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
        )
        self._sink = _Sink()
        compiled_zip = self._compiled_zip
        self._compiled = _Buffered(
            self._sink, lambda: compiled_zip.open(COMPILED_NAME, "w", force_zip64=True)
        )
        self._member: _Buffered | None = None
        self._member_awards = 0
        self._member_bytes = 0
        self._first = True

    def _open_member(self) -> None:
        name = f"releases-{len(self.counts.packages) + 1:04d}.json"
        self.counts.packages.append(name)
        meta = ocds.package_metadata(uri=f"{self.uri}/{name}", published=self.published)
        head = ocds.dumps(meta)[:-1] + b',"releases":['
        archive = self._zip
        self._member = _Buffered(self._sink, lambda: archive.open(name, "w", force_zip64=True))
        self._member.write(head)
        self._member_awards = 0
        self._member_bytes = len(head)
        self._first = True

    def _close_member(self) -> None:
        if self._member is not None:
            self._member.write(b"]}")
            self._member.close()
            self._member = None

    def add(self, release: ocds.Release) -> None:
        data, awards = release.json(), release.awards
        if self._member is not None and (
            self._member_awards + awards > self.max_awards
            or self._member_bytes + len(data) + 3 > self.max_bytes
        ):
            self._close_member()
        if self._member is None:
            self._open_member()
        assert self._member is not None
        if not self._first:
            self._member.write(b",")
        self._member.write(data)
        self._first = False
        self._member_awards += awards
        self._member_bytes += len(data) + 1
        self._compiled.write(release.compiled_json() + b"\n")
        self.counts.releases += 1
        self.counts.awards += awards

    def close(self) -> Counts:
        if self._member is None and not self.counts.packages:
            self._open_member()  # an empty selection still gets a valid, empty package
        self._close_member()
        self._compiled.close()
        self._sink.finish()
        self._compiled_zip.close()
        _copy_member(self._compiled_path, COMPILED_NAME, self._zip)
        self._zip.close()
        self._compiled_path.unlink(missing_ok=True)
        return self.counts

    def abort(self) -> None:
        try:
            with contextlib.suppress(BaseException):
                self._sink.finish()
            with contextlib.suppress(BaseException):
                self._compiled_zip.close()
            with contextlib.suppress(BaseException):
                self._zip.close()
        finally:
            self._compiled_path.unlink(missing_ok=True)
            self.path.unlink(missing_ok=True)


def _copy_member(source: Path, name: str, target: zipfile.ZipFile) -> None:
    """Copy member `name` of the ZIP at `source` into `target` as it is (compressed).

    zipfile has no public call for this; it is what ZipFile._open_to_write and
    _ZipWriteFile.close do, with the CRC and sizes known beforehand.
    """
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo(name)
    copy = zipfile.ZipInfo(name, date_time=info.date_time)
    copy.compress_type = info.compress_type
    copy.external_attr = 0o600 << 16
    copy.CRC, copy.compress_size, copy.file_size = info.CRC, info.compress_size, info.file_size
    with source.open("rb") as handle:
        handle.seek(info.header_offset)
        local = handle.read(30)
        name_length, extra_length = struct.unpack("<HH", local[26:30])
        handle.seek(info.header_offset + 30 + name_length + extra_length)
        fp = target.fp
        assert fp is not None
        fp.seek(target.start_dir)
        copy.header_offset = fp.tell()
        fp.write(copy.FileHeader(zip64=True))
        remaining = info.compress_size
        while remaining:
            chunk = handle.read(min(remaining, 1 << 20))
            if not chunk:
                raise OSError(f"{source} ends inside {name}")
            fp.write(chunk)
            remaining -= len(chunk)
    target.start_dir = fp.tell()
    target.filelist.append(copy)
    target.NameToInfo[name] = copy
    target._didModify = True  # type: ignore[attr-defined]  # what ZipFile's own writers set


def write_zip(
    path: Path,
    notice_ids: Iterable[int],
    *,
    uri: str,
    published: dt.datetime,
    progress: Callable[[Counts], None] | None = None,
    **limits: int,
) -> Counts:
    """Every release of `notice_ids` into the ZIP at `path`; `progress` after each batch."""
    writer = BulkWriter(path, uri=uri, published=published, **limits)
    try:
        for seen, release in enumerate(ocds.releases(notice_ids), 1):
            writer.add(release)
            if progress is not None and not seen % ocds.BATCH_NOTICES:
                progress(writer.counts)
        return writer.close()
    except BaseException:
        writer.abort()
        raise
