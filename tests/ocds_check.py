"""Offline OCDS validation with libcoveocds (the Data Review Tool's library).

libcoveocds is AGPL-3.0: a test/dev dependency only, imported here and nowhere in the
app. It reads the schema from the standard's schema-only ZIP in ../shared/ocds, so no
network is needed.
"""

from __future__ import annotations

import json
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

STANDARD_ZIP = Path(__file__).resolve().parents[2] / "shared" / "ocds" / "standard-1__1__5-schema-only.zip"
PROBLEM_CLASSES = (
    "validation_errors",
    "additional_closed_codelist_values",
    "conformance_errors",
    "additional_checks",
    "additional_fields",
    "deprecated_fields",
)


def standard_zip() -> Path:
    if not STANDARD_ZIP.exists():
        pytest.skip(f"the OCDS schema ZIP {STANDARD_ZIP} is not next to the checkout")
    return STANDARD_ZIP


def problems(package: dict[str, Any]) -> dict[str, Any]:
    """Every non-empty problem class libcoveocds finds in a release package."""
    from libcoveocds.api import ocds_json_output
    from libcoveocds.config import LibCoveOCDSConfig

    config = LibCoveOCDSConfig()
    config.config["context"] = "api"
    config.config["standard_zip"] = f"file://{standard_zip()}"
    # libcoveocds parses numbers itself; it gets the package as plain JSON values.
    plain = json.loads(json.dumps(package, default=float))
    result = ocds_json_output(json_data=plain, lib_cove_ocds_config=config, schema_version="1.1")
    return {name: result.get(name) for name in PROBLEM_CLASSES if result.get(name)}


def read_zip(path: Path) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """(package name -> package, compiled releases) of an OCDS export ZIP; numbers as Decimal."""
    packages = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".json"):
                packages[name] = json.loads(archive.read(name), parse_float=Decimal)
        lines = archive.read("compiled-releases.jsonl").decode().splitlines()
    return packages, [json.loads(line, parse_float=Decimal) for line in lines]
