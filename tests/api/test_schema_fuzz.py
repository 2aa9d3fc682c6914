"""Schemathesis against the whole app, from its own OpenAPI schema, as an operator: no 5xx, every answer's status,
content type, headers and body as the schema declares them.

Bounded so it stays a unit test: a few derandomized examples per operation (the same ones each run), the app in
process through ASGI, with its lifespan running (journal, users, live state) for the whole module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.settings import ApiSettings
from tests.api.conftest import LANES
from tests.api.test_auth_audit import ListPublisher

MAX_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]


# The schema comes from an app that is never started (creating one does no I/O); the cases run against
# `running_app`, whose lifespan schemathesis's ASGI client starts on the first call and the fixture ends.
_UNSTARTED = Path("/nonexistent/smartgate-fuzz")
schema = schemathesis.openapi.from_dict(create_app(ApiSettings(
    journal_url=f"sqlite:///{_UNSTARTED}/journal.sqlite", users_path=_UNSTARTED / "users.sqlite",
    data_dir=_UNSTARTED, lanes=LANES)).openapi())


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    settings_ = ApiSettings(journal_url=f"sqlite:///{folder}/journal.sqlite", users_path=folder / "users.sqlite",
                            data_dir=folder / "data", lanes=LANES, environment="development", rate_per_s=1e6,
                            rate_burst=1_000_000)
    app = create_app(settings_, publisher=ListPublisher())
    with asgi.get_client(app) as client:  # type: ignore[arg-type]  # starts the lifespan, until shutdown_lifespans
        assert client.get("http://testserver/health/ready").status_code == 200
    key = app.state.ctx.users.add_api_key("fuzz-operator", "operator")   # a key: the fuzzed logout cannot revoke it
    try:
        yield app, key
    finally:
        asgi.shutdown_lifespans()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_error_and_every_answer_as_declared(case: Any, running_app: tuple[Any, str]) -> None:
    app, key = running_app
    case.call_and_validate(app=app, headers={"X-API-Key": key}, checks=CHECKS)
