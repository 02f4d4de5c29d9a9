"""Shared pytest fixtures, one section per area. Add new fixtures in a section of their own."""

from __future__ import annotations

import base64
import http.client
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import AsyncIterator, Iterator

import pytest

from storage.base import DocumentStore
from storage.cosmos import CosmosStore
from storage.sqlite import SqliteStore

ROOT = Path(__file__).resolve().parent.parent


# =====================================================================================================
# Storage: the Cosmos DB test server and the parametrised `store` fixture (SQLite and Cosmos)
# =====================================================================================================

COSMOS_PACKAGE = ROOT / "node_modules" / "@vercel" / "cosmosdb-server"
COSMOS_KEY = base64.b64encode(b"lotsenbot-test-server-accepts-any-key").decode()
COSMOS_START_TIMEOUT_S = 20.0
STORE_CONTAINERS = ("items", "other", "leases")

# Starts the server as its CLI would, but bound to 127.0.0.1, with keep-alive like a real account (its
# default "Connection: close" leaves aiohttp TLS sockets unclosed at loop end) and with one fix: its
# point-read handler crashes (HTTP 500) on a missing document, where Cosmos DB answers 404.
_COSMOS_LAUNCHER = r"""
const [pkg, port] = process.argv.slice(1);
const read = require(pkg + "/lib/handler/read-document");
const original = read.default;
read.default = (account, req, res, params) => {
  try {
    return original(account, req, res, params);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    res.statusCode = 404;
    return { code: "NotFound", message: "Entity with the specified id does not exist in the system." };
  }
};
const server = require(pkg).createHttpsServer({ keepAlive: true }).listen(Number(port), "127.0.0.1", () => {
  console.log("cosmosdb-server ready on 127.0.0.1:" + server.address().port);
});
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE  # the server's certificate is self-signed
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=0.5, context=ctx)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def cosmos_server() -> Iterator[str]:
    """Endpoint of a Cosmos DB protocol server on 127.0.0.1, running for the whole session."""
    if not (COSMOS_PACKAGE / "lib" / "index.js").is_file():
        pytest.fail(f"Cosmos test server missing: run `npm install` in {ROOT}", pytrace=False)
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"Node.js >= 20 is needed for the Cosmos test server (then `npm install` in {ROOT})",
                    pytrace=False)
    with tempfile.TemporaryFile() as log:
        proc: subprocess.Popen | None = None
        try:
            for _ in range(3):  # the free port can be taken between probing and listening
                port = _free_port()
                proc = subprocess.Popen([node, "-e", _COSMOS_LAUNCHER, str(COSMOS_PACKAGE), str(port)],
                                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
                deadline = time.monotonic() + COSMOS_START_TIMEOUT_S
                while proc.poll() is None and time.monotonic() < deadline and not _answers(port):
                    time.sleep(0.05)
                if proc.poll() is None:
                    break
            log.seek(0)
            output = log.read().decode(errors="replace")[-2000:]
            if proc.poll() is not None:
                pytest.fail(f"Cosmos test server exited with {proc.returncode} (is `npm install` done in "
                            f"{ROOT}?):\n{output}", pytrace=False)
            if not _answers(port):
                pytest.fail(f"Cosmos test server did not answer on 127.0.0.1:{port} within "
                            f"{COSMOS_START_TIMEOUT_S:.0f} s:\n{output}", pytrace=False)
            yield f"https://127.0.0.1:{port}"
        finally:
            if proc is not None:
                _stop(proc)


@pytest.fixture(params=["sqlite", "cosmos"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DocumentStore]:
    """An opened store with empty STORE_CONTAINERS, once per backend."""
    if request.param == "sqlite":
        opened: DocumentStore = SqliteStore(tmp_path / "store.sqlite3")
    else:
        endpoint = request.getfixturevalue("cosmos_server")
        # A database per test: the server is shared by the session, the data must not be.
        opened = CosmosStore(endpoint, COSMOS_KEY, f"test_{uuid.uuid4().hex}", verify_tls=False)
    await opened.open(STORE_CONTAINERS)
    try:
        yield opened
    finally:
        await opened.close()
