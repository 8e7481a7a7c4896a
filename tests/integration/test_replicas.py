"""Past one machine, with the real parts and no Docker: a throwaway PostgreSQL cluster, three
torchplay replicas sharing it, and nginx in front (deploy/nginx.conf.template, rendered and
flagged by deploy/topology.py exactly as the plain-process topology runs it).

Saved experiments open, export and fork through any replica; owners edit and delete through
any; quotas hold across replicas; a WebSocket through the proxy trains; a replica killed
mid-run closes its clients' sockets while the other replicas' runs go on, its clients start
again through the proxy, and saved links keep opening. compose.yaml is checked to use the
same nginx file and replica flags.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from deployment import Deployment, deploy, topology, wait_for_port, wait_until_ready
from websockets.exceptions import ConnectionClosed
from wsclient import TIMEOUT, Client, connect_to, mlp

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
SPEC = {"data": {"kind": "circle", "noise": 0.1}, "network": {"layers": mlp(6)},
        "optimizer": {"kind": "sgd", "lr": 0.1}, "training": {"epochs": 3}}
ENDLESS = {**SPEC, "training": {"epochs": None}}


@pytest.fixture(scope="module")
def deployment(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """Three replicas (started with --saves-per-minute 3) behind nginx, on a new database."""
    with deploy(request, 3, "--saves-per-minute", "3") as running:
        yield running


async def http(where: Any, method: str, path: str, token: str | None = None,
               **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(base_url=where.url, timeout=TIMEOUT) as client:
        return await client.request(method, path, headers=headers, **kwargs)


async def train_and_save(client: Client, name: str) -> dict[str, Any]:
    await client.start(SPEC, fps=20)
    await client.event("finished")
    await client.send({"type": "save", "name": name})
    saved = await client.until(lambda m: m["type"] in ("saved", "error"), "saved")
    assert saved["type"] == "saved", saved
    return saved


async def test_what_one_replica_saved_opens_exports_and_forks_through_the_others_and_its_owner_deletes_it_through_a_third(  # noqa: E501
        deployment: Deployment) -> None:
    first, second, third = deployment.replicas
    async with connect_to(deployment.proxy) as client:  # a WebSocket through nginx trains
        saved = await train_and_save(client, "through the proxy")
    token, path = saved["token"], f"/api/experiments/{saved['id']}"
    answers = [await http(replica, "GET", path) for replica in deployment.replicas]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert answers[0].json()["run"]["history"]["steps"]["loss"] == client.steps["loss"]
    for export in ("spec.json", "metrics.csv", "weights.pt", "script.py"):
        files = [(await http(where, "GET", f"{path}/{export}")).content
                 for where in (*deployment.replicas, deployment.proxy)]
        assert files[0] and files[0] == files[1] == files[2] == files[3], export
    page = await http(second, "GET", saved["url"])
    assert page.status_code == 200 and "<!doctype html>" in page.text.lower()

    # Fork through the second: its spec runs there, and saved there with the owner's token.
    spec = answers[1].json()["spec"]
    async with connect_to(second) as fork:
        await fork.start(spec, fps=20)
        finished = await fork.event("finished")
        assert finished["epoch"] == 3
    forked = await http(second, "POST", "/api/experiments", token, json={"spec": spec})
    assert forked.status_code == 201 and forked.json()["token"] is None

    renamed = await http(first, "PATCH", path, token, json={"name": "renamed on the first"})
    assert renamed.status_code == 200
    assert (await http(third, "GET", path)).json()["name"] == "renamed on the first"
    assert (await http(third, "DELETE", path)).status_code == 403
    assert (await http(third, "DELETE", path, token)).status_code == 204
    for replica in deployment.replicas:
        assert (await http(replica, "GET", path)).status_code == 404
    assert (await http(first, "GET", f"/api/experiments/{forked.json()['id']}")).status_code \
        == 200


async def test_saves_per_minute_hold_across_replicas(deployment: Deployment) -> None:
    """Started with --saves-per-minute 3: three saves of one token through three replicas,
    and a fourth through any of them is refused."""
    first = await http(deployment.replicas[0], "POST", "/api/experiments", json={"spec": SPEC})
    token = first.json()["token"]
    for replica in deployment.replicas[1:]:
        again = await http(replica, "POST", "/api/experiments", token, json={"spec": SPEC})
        assert again.status_code == 201
    refused = await http(deployment.proxy, "POST", "/api/experiments", token,
                         json={"spec": SPEC})
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"


async def test_a_replica_killed_mid_run_closes_its_clients_sockets_while_the_others_train_on(
        deployment: Deployment) -> None:
    async with connect_to(deployment.proxy) as client:
        link = (await train_and_save(client, "kept"))["url"]
    clients: list[tuple[Client, int, Any]] = []  # client, its replica, its context
    try:
        # Connect through the proxy until runs live on at least two replicas; which replica
        # took each is read from the replicas' own session counts.
        for _ in range(6):
            before = deployment.sessions()
            context = connect_to(deployment.proxy)
            opened = await context.__aenter__()
            await opened.start(ENDLESS, fps=10)
            after = deployment.sessions()
            took = [i for i, (b, a) in enumerate(zip(before, after, strict=True)) if a == b + 1]
            assert len(took) == 1, (before, after)
            clients.append((opened, took[0], context))
            if len({replica for _, replica, _ in clients}) >= 2:
                break
        victim = clients[0][1]
        doomed = [c for c, replica, _ in clients if replica == victim]
        others = [c for c, replica, _ in clients if replica != victim]
        assert doomed and others
        for c in clients:
            await c[0].frame(lambda f: f["step"] > 0)
        deployment.replicas[victim].process.kill()
        deployment.replicas[victim].process.wait(timeout=TIMEOUT)

        for c in doomed:  # told: the socket closes (nginx drops it with the replica)
            with pytest.raises(ConnectionClosed):
                await c.until(lambda m: False, "the close", timeout=TIMEOUT)
        for c in others:  # ... while the other replicas' runs go on
            step = c.last_frame["step"]
            await c.frame(lambda f, s=step: f["step"] > s, "a later frame")
    finally:
        for _, _, context in clients:
            try:
                await context.__aexit__(None, None, None)
            except (ConnectionClosed, OSError):
                pass

    # Its user starts again through the proxy, which routes around the dead replica.
    async with connect_to(deployment.proxy) as again:
        await again.start(SPEC, fps=20)
        assert (await again.event("finished"))["epoch"] == 3
    for _ in range(2 * len(deployment.replicas)):  # round robin passes the dead one each lap
        opened = await http(deployment.proxy, "GET", f"/api/experiments/{link[3:]}")
        assert opened.status_code == 200 and opened.json()["name"] == "kept"
        page = await http(deployment.proxy, "GET", link)
        assert page.status_code == 200


async def test_bodies_over_the_limits_get_the_error_shape_from_torchplay_or_from_nginx(
        deployment: Deployment) -> None:
    for size, message in ((1_100_000, "the limit is 1,000,000"), (3_000_000, "proxy limit")):
        answer = await http(deployment.proxy, "POST", "/api/experiments",
                            content=b'{"note": "' + b"x" * size + b'"}',
                            headers={"content-type": "application/json"})
        assert answer.status_code == 413
        assert answer.json()["code"] == "too_large" and message in answer.json()["message"]


def test_with_no_replica_answering_nginx_says_so_in_the_error_shape(tmp_path: Path) -> None:
    listen = topology.free_port()
    log = tmp_path / "stderr"
    with log.open("wb") as sink:
        nginx = subprocess.Popen(topology.prepare_nginx(
            tmp_path, f"127.0.0.1:{listen}", [f"127.0.0.1:{topology.free_port()}"]),
            stdout=sink, stderr=sink)
    try:
        wait_for_port(listen, nginx, log)
        answer = httpx.get(f"http://127.0.0.1:{listen}/api/health", timeout=TIMEOUT)
        assert answer.status_code == 503
        assert answer.json()["code"] == "unavailable"
        assert "no torchplay server is answering" in answer.json()["message"]
    finally:
        nginx.terminate()
        nginx.wait(timeout=TIMEOUT)


def test_compose_runs_the_same_nginx_file_and_replica_flags_as_the_plain_processes() -> None:
    compose = (ROOT / "deploy" / "compose.yaml").read_text()
    assert "./nginx.conf.template:/etc/torchplay/nginx.conf.template" in compose
    assert "-c nginx.conf" in compose  # prepare_nginx's command: the same file, as rendered
    assert topology.prepare_nginx.__doc__ and "nginx.conf" in str(topology.TEMPLATE)
    command = re.search(r"command: \[torchplay, (.*)\]", compose)
    assert command is not None
    flags = [word for word in command.group(1).split(", ") if word.startswith("--")]
    expected = [word for word in topology.replica_args(8000, "db") if word.startswith("--")]
    assert flags == expected
    proxy = compose.split("--trusted-proxy, ")[1].split("]")[0]
    assert f"ipv4_address: {proxy}" in compose  # the replicas trust exactly nginx
    upstreams = re.findall(r"server (replica\d):8000 max_fails=1 fail_timeout=5s;", compose)
    assert upstreams == ["replica1", "replica2", "replica3"]
    assert all(f"  {name}: *replica" in compose for name in upstreams)
    rendered = topology.render_nginx("8080", ["a:1"])
    assert "${" not in rendered and "server a:1 max_fails=1 fail_timeout=5s;" in rendered


def test_the_plain_process_script_runs_as_written(postgres: Any, tmp_path: Path) -> None:
    """deploy/topology.py itself: two replicas and nginx come up, a save through nginx is
    stored, and SIGTERM stops every process it started."""
    listen, first = topology.free_port(), topology.free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "backend")}
    script = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy" / "topology.py"), "--db", postgres.database(),
         "--replicas", "2", "--listen", f"127.0.0.1:{listen}", "--first-port", str(first),
         "--torchplay", f"{sys.executable} -m torchplay", "--no-compile"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # wait_until_ready also checks that `process` (here the script) still runs.
        replicas = [SimpleNamespace(url=f"http://127.0.0.1:{first + i}", process=script)
                    for i in range(2)]
        for replica in replicas:
            wait_until_ready(replica)
        saved = httpx.post(f"http://127.0.0.1:{listen}/api/experiments", json={"spec": SPEC},
                           timeout=TIMEOUT)
        assert saved.status_code == 201
        for replica in replicas:
            assert httpx.get(f"{replica.url}{saved.json()['url']}", timeout=TIMEOUT).is_success
    finally:
        script.terminate()
        output, _ = script.communicate(timeout=3 * TIMEOUT)
    assert script.returncode == 0, output
    assert f"nginx on 127.0.0.1:{listen} in front of 2 replicas" in output
    for port in (listen, first, first + 1):
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
