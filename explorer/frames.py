"""Parent and child processes that talk in frames: length-prefixed pickles of (kind, payload).

The import reader (explorer/staging.py) and the export reader (jobs/kinds/export/reader.py)
run as `python -m MODULE` children of the process that needs their rows, so that parsing
or fetching runs on the other core. The child writes frames to stdout with `serve()`; the
parent reads them with `ChildProcess.frames()`.
"""

from __future__ import annotations

import pickle
import struct
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def write_frame(out: IO[bytes], kind: str, payload: object) -> None:
    data = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
    out.write(struct.pack("<Q", len(data)))
    out.write(data)
    out.flush()


def read_frame(stream: IO[bytes]) -> tuple[str, Any]:
    """The next frame; ("eof", None) if the child stopped without saying goodbye."""
    header = stream.read(8)
    if len(header) < 8:
        return "eof", None
    (size,) = struct.unpack("<Q", header)
    # Only ever our own child's output on a private pipe, so unpickling is safe here.
    return pickle.loads(stream.read(size))  # noqa: S301


class ChildProcess:
    """Parent side: `python -m MODULE ARGS`, which answers in frames.

    A subprocess, not multiprocessing: Celery's pool children are daemonic and may not
    fork multiprocessing children. `request`, if given, is sent as the child's one frame
    of input (the import reader takes its path as an argument instead).
    """

    def __init__(self, module: str, *args: str, request: tuple[str, object] | None = None) -> None:
        self.module = module
        self.process = subprocess.Popen(  # noqa: S603 (our own module)
            [sys.executable, "-m", module, *args],
            cwd=Path(__file__).resolve().parents[1],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.process.stdin is not None
        if request is not None:
            write_frame(self.process.stdin, *request)
        self.process.stdin.close()

    def frames(self) -> Iterator[tuple[str, Any]]:
        """The child's frames up to its "end"; an error it reports, or a silent exit, raises."""
        assert self.process.stdout is not None
        while True:
            kind, payload = read_frame(self.process.stdout)
            if kind == "end":
                return
            if kind == "error":
                raise RuntimeError(f"{self.module} failed:\n{payload}")
            if kind == "eof":
                self.process.wait()
                stderr = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"{self.module} exited ({self.process.returncode}): {stderr[-2000:]}")
            yield kind, payload

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream and not stream.closed:
                stream.close()


def serve(frames: Iterator[tuple[str, object]]) -> int:
    """Child side: write each frame to stdout, then "end"; a failure as an "error" frame."""
    out = sys.stdout.buffer
    try:
        for kind, payload in frames:
            write_frame(out, kind, payload)
    except BrokenPipeError:
        return 1  # the parent stopped reading (cancelled or failed); nothing to report
    except Exception:
        write_frame(out, "error", traceback.format_exc())
        return 1
    write_frame(out, "end", None)
    return 0
