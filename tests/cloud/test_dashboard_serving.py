"""``revlink cloud serve`` serves the dashboard build at ``/`` and the API docs offline.

A small build stands in for ``frontend/dist`` so the serving rules are checked on their own;
the browser tests in ``tests/e2e`` run against the real build.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.web.dashboard import ASSET_CACHE_CONTROL, DOCUMENT_CACHE_CONTROL
from tests.rig.cloud import CloudServer, start_cloud

INDEX = "<!doctype html><title>revlink</title><div id=app></div>"
ASSET = "assets/index-3f9a1c2e.js"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dist")
    (root / "assets").mkdir()
    (root / "index.html").write_text(INDEX)
    (root / ASSET).write_text("console.log('revlink')")
    (root / "favicon.svg").write_text("<svg/>")
    return root


@pytest.fixture(scope="module")
def served(
    cloud_database_url: str, build: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CloudServer]:
    logs = tmp_path_factory.mktemp("dashboard-cloud")
    with start_cloud(cloud_database_url, logs, env={"REVLINK_DASHBOARD_DIR": str(build)}) as s:
        yield s


def test_the_root_serves_the_dashboard_and_revalidates_it(served: CloudServer) -> None:
    with served.http() as client:
        reply = client.get("/")
    assert reply.status_code == 200
    assert reply.text == INDEX
    assert reply.headers["content-type"].startswith("text/html")
    assert reply.headers["cache-control"] == DOCUMENT_CACHE_CONTROL


@pytest.mark.parametrize("path", ["/fleet", "/devices/0b7c9d1e", "/history", "/live/"])
def test_client_routes_fall_back_to_the_dashboard(served: CloudServer, path: str) -> None:
    with served.http() as client:
        reply = client.get(path)
    assert reply.status_code == 200, path
    assert reply.text == INDEX
    assert reply.headers["cache-control"] == DOCUMENT_CACHE_CONTROL


def test_hashed_assets_are_cached_for_a_year(served: CloudServer) -> None:
    with served.http() as client:
        asset = client.get(f"/{ASSET}")
        plain = client.get("/favicon.svg")
    assert asset.status_code == 200
    assert (
        asset.headers["cache-control"]
        == ASSET_CACHE_CONTROL
        == ("public, max-age=31536000, immutable")
    )
    assert "javascript" in asset.headers["content-type"]
    assert plain.status_code == 200
    assert plain.headers["cache-control"] == DOCUMENT_CACHE_CONTROL


def test_a_missing_file_stays_a_404(served: CloudServer) -> None:
    with served.http() as client:
        assert client.get("/assets/index-00000000.js").status_code == 404
        assert client.get("/robots.txt").status_code == 404


def test_api_doors_and_docs_keep_their_own_answers(served: CloudServer) -> None:
    with served.http() as client:
        unknown = client.get("/api/v1/no-such-thing")
        unauthorised = client.get("/api/v1/devices")
        health = client.get("/healthz")
        openapi = client.get("/openapi.json")
        door = client.get("/ws/no-such-door")
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Not Found"}
    assert unauthorised.status_code == 401
    assert health.json()["status"] == "ok"
    assert openapi.json()["info"]["title"] == "revlink cloud"
    assert door.status_code == 404
    assert door.headers["content-type"] == "application/json"


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_docs_load_everything_from_the_cloud_itself(served: CloudServer, page: str) -> None:
    with served.http() as client:
        html = client.get(page)
        assert html.status_code == 200
        sources = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text)
        scripts = re.findall(r"""url: ?["']([^"']+)["']""", html.text)
        assert sources, html.text
        external = [s for s in sources if re.match(r"(https?:)?//", s)]
        assert not external, f"{page} loads {external} from the network"
        for source in sources:
            asset = client.get(source)
            assert asset.status_code == 200, source
            assert len(asset.content) > 1000, source
        for url in scripts:
            assert url == "/openapi.json"


def test_without_a_build_the_root_says_how_to_make_one(
    cloud_database_url: str, tmp_path: Path
) -> None:
    empty = tmp_path / "no-build"
    empty.mkdir()
    env = {"REVLINK_DASHBOARD_DIR": str(empty)}
    with (
        start_cloud(cloud_database_url, tmp_path / "logs", env=env) as server,
        server.http() as client,
    ):
        page = client.get("/fleet")
        api = client.get("/api/v1/nothing")
    assert page.status_code == 503
    assert "make install" in page.text
    assert str(empty) in page.text
    assert api.status_code == 404
    assert api.json() == {"detail": "Not Found"}
