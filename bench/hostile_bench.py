"""Large request bodies against one daphne (issue 16): memory and stalls.

Usage: DATABASE_URL=... CELERY_BROKER_URL=... REDIS_URL=... python bench/hostile_bench.py
While a client calls /healthz back to back, an anonymous client sends well-formed
multipart POSTs of 50 and 200 MB to /login/ (what took daphne to 2.9 GB and stalled every
request for 7.4 s before config/server.py), then a staff user uploads a 200 MB file to
the import page's chunked upload (4 MB parts). Reports daphne's RSS (before, peak), the
/healthz latency during each phase, and the upload's rate. No worker runs: the import
job the upload starts is cancelled at the end.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import statistics
import threading
import time

import psutil
from common import ROOT, RssSampler, bench_users, record, session_cookie, setup_django, start_daphne, stop

MB = 2**20
BLOCK = b"x" * MB
BOUNDARY = "----bench"


class Poller(threading.Thread):
    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.durations: list[float] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stopping.is_set():
            started = time.perf_counter()
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            self.durations.append(time.perf_counter() - started)
            time.sleep(0.01)

    def take(self) -> list[float]:
        taken, self.durations = self.durations, []
        return taken


def latency(durations: list[float]) -> str:
    ms = sorted(d * 1000 for d in durations)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"{len(ms)} calls, median {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms"


def multipart_post(port: int, size: int) -> tuple[str, float]:
    part = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n\r\n'
    ).encode()
    end = f"\r\n--{BOUNDARY}--\r\n".encode()
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(
            (
                f"POST /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {size}\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
            ).encode()
            + part
        )
        left = size - len(part) - len(end)
        try:
            while left > 0:
                sock.sendall(BLOCK[: min(MB, left)])
                left -= MB
            sock.sendall(end)
        except OSError:
            pass  # refused early: the answer is waiting
        answer = sock.recv(200).split(b"\r\n")[0].decode()
    return answer, time.perf_counter() - started


def chunked_upload(port: int, cookie: str, size: int) -> tuple[float, str]:
    """Upload `size` bytes of a PhilGEPS file the way static/js/upload.js does; (seconds, job id)."""
    sample = (ROOT.parent / "shared" / "data" / "philgeps-v2-2024q4-sample-200.csv").read_bytes()
    header, _, rows = sample.partition(b"\n")
    content = bytearray(header + b"\n")
    while len(content) + len(rows) <= size:
        content += rows
    api = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    api.request("GET", "/jobs/import/", headers={"Cookie": cookie})
    response = api.getresponse()
    page = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    csrf_cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie") or "")
    cookie = f"{cookie}; csrftoken={csrf_cookie[1]}" if csrf_cookie else cookie
    headers = {"Cookie": cookie, "X-CSRFToken": token, "Origin": f"http://127.0.0.1:{port}"}
    started = time.perf_counter()
    body = f"name=bench-200mb.csv&size={len(content)}"
    api.request(
        "POST",
        "/jobs/import/uploads/",
        body,
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    state = json.loads(api.getresponse().read())
    offset = 0
    while offset < len(content):
        part = bytes(content[offset : offset + state["chunk_bytes"]])
        api.request(
            "POST",
            f"{state['chunk_url']}?offset={offset}",
            part,
            headers={**headers, "Content-Type": "application/octet-stream"},
        )
        offset = json.loads(api.getresponse().read())["offset"]
    api.request("POST", state["complete_url"], headers=headers)
    done = json.loads(api.getresponse().read())
    return time.perf_counter() - started, done["job"]


def main() -> None:
    setup_django()
    from jobs import imports, services
    from jobs.models import Job

    [staff] = bench_users("bench-hostile", 1, staff=True)
    cookie = session_cookie(staff)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    daphne, port = start_daphne(out / "hostile-daphne.log")
    # Other work on the machine shows in the latencies: say how busy it was.
    lines = [f"load average at the start: {os.getloadavg()[0]:.1f} on {psutil.cpu_count()} cores"]
    try:
        poller = Poller(port)
        poller.start()
        time.sleep(1)
        lines.append(f"/healthz alone: {latency(poller.take())}")
        baseline = psutil.Process(daphne.pid).memory_info().rss
        with RssSampler(daphne.pid) as memory:
            for size in (50 * MB, 200 * MB):
                answer, seconds = multipart_post(port, size)
                lines.append(
                    f"anonymous {size // MB} MB multipart POST to /login/: `{answer}` after {seconds:.2f} s; "
                    f"/healthz meanwhile: {latency(poller.take())}"
                )
            after_posts = memory.peak
            seconds, job_id = chunked_upload(port, cookie, 200 * MB)
            lines.append(
                f"staff 200 MB chunked upload (4 MB parts): {seconds:.1f} s ({200 / seconds:.0f} MB/s); "
                f"/healthz meanwhile: {latency(poller.take())}"
            )
        poller.stopping.set()
        lines.append(
            f"daphne RSS: {baseline / MB:.0f} MB before, peak {after_posts / MB:.0f} MB during the two "
            f"POSTs, peak {memory.peak / MB:.0f} MB during the upload"
        )
        job = services.cancel_job(user=staff, job=Job.objects.get(pk=job_id))
        imports.upload_path(job.params["upload"]).unlink(missing_ok=True)
    finally:
        stop(daphne)
    record(
        "Large request bodies against one daphne (config/server.py)",
        "python bench/hostile_bench.py",
        lines,
    )


if __name__ == "__main__":
    main()
