"""Start and stop the extra RabbitMQ nodes that TLS and cluster tests need.

A thin wrapper over scripts/tls_certs.sh, scripts/rabbit_node.sh and
scripts/cluster.sh (see docs/cluster-notes.md). The nodes never touch the
default broker on 5672: they use the ports below, all on 127.0.0.1, and keep
their data under $RABBIT_NODES_DIR (default /tmp/pv-sim-rabbit). The scripts
need root, since Debian's RabbitMQ wrappers switch to the rabbitmq user.
Every call is idempotent and raises RabbitNodeError (with the script's output)
on failure or timeout.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.paths import ROOT as REPO

SCRIPTS = REPO / "scripts"
NODES_DIR = Path(os.environ.get("RABBIT_NODES_DIR", "/tmp/pv-sim-rabbit"))
# Every path component must be traversable by the rabbitmq user, which reads
# the server certificate and key: a tempfile.mkdtemp() dir (mode 0700) is not.
DEFAULT_CERT_DIR = NODES_DIR / "certs"

# Server certificate name (scripts/tls_certs.sh) -> (node name, AMQP port, AMQPS port).
# One node per certificate, so tests of the three can run side by side.
TLS_NODES: dict[str, tuple[str, int, int]] = {
    "server": ("pvtls", 5680, 5671),
    "expired_server": ("pvtls-expired", 5679, 5678),
    "wrong_host_server": ("pvtls-wronghost", 5677, 5676),
}
CLUSTER_AMQP_PORTS = [5681, 5682, 5683]

# Bounds for one script run; a node usually starts in 5-10 s, the cluster in ~20 s.
CERTS_TIMEOUT = 60.0
NODE_TIMEOUT = 180.0
CLUSTER_TIMEOUT = 300.0


@dataclass(frozen=True)
class TlsNode:
    """A running TLS node and the files a client needs to talk to it."""

    node_name: str
    host: str
    amqp_port: int
    tls_port: int
    cert_dir: Path
    server_cert: str

    @property
    def ca_file(self) -> Path:
        """The CA that signed every certificate of the node and client."""
        return self.cert_dir / "ca.pem"

    @property
    def wrong_ca_file(self) -> Path:
        """A CA that signed nothing the node serves."""
        return self.cert_dir / "wrong_ca.pem"

    @property
    def client_cert(self) -> Path:
        """Client certificate signed by ca_file."""
        return self.cert_dir / "client.pem"

    @property
    def client_key(self) -> Path:
        """Key of client_cert."""
        return self.cert_dir / "client.key"


class RabbitNodeError(RuntimeError):
    """A node script failed or timed out; the message carries its output."""


def _run(args: list[str], timeout: float) -> str:
    """Run a script, return its stdout; raise RabbitNodeError on failure or timeout."""
    # A session of its own, so that a timeout can end the script and whatever it started.
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise RabbitNodeError(
            f"{' '.join(args)} timed out after {timeout:.0f}s\nstdout:\n{out}\nstderr:\n{err}"
        ) from None
    if proc.returncode != 0:
        raise RabbitNodeError(
            f"{' '.join(args)} exited with {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
        )
    return out


def node_name(name: str) -> str:
    """The Erlang node name the scripts give node NAME (short host name)."""
    return f"{name}@{socket.gethostname().split('.')[0]}"


def ensure_certs(cert_dir: Path = DEFAULT_CERT_DIR) -> Path:
    """Generate the test CAs and certificates into cert_dir unless present."""
    _run([str(SCRIPTS / "tls_certs.sh"), str(cert_dir)], CERTS_TIMEOUT)
    return cert_dir


def ensure_tls_node(
    cert_dir: Path = DEFAULT_CERT_DIR, server_cert: str = "server"
) -> TlsNode:
    """Start (if needed) the TLS node serving server_cert, one of TLS_NODES."""
    name, amqp_port, tls_port = TLS_NODES[server_cert]
    ensure_certs(cert_dir)
    _run(
        [
            str(SCRIPTS / "rabbit_node.sh"),
            "start",
            name,
            str(amqp_port),
            "--tls",
            str(cert_dir),
            "--tls-port",
            str(tls_port),
            "--server-cert",
            server_cert,
        ],
        NODE_TIMEOUT,
    )
    return TlsNode(
        node_name(name), "localhost", amqp_port, tls_port, cert_dir, server_cert
    )


def ensure_tls_nodes(
    cert_dir: Path = DEFAULT_CERT_DIR, server_certs: Iterable[str] = tuple(TLS_NODES)
) -> dict[str, TlsNode]:
    """Start the TLS nodes for several server certificates at once, by certificate."""
    certs = list(server_certs)
    ensure_certs(cert_dir)
    with ThreadPoolExecutor(max_workers=len(certs)) as pool:
        nodes = list(pool.map(lambda cert: ensure_tls_node(cert_dir, cert), certs))
    return dict(zip(certs, nodes, strict=True))


def stop_tls_node(server_cert: str = "server") -> None:
    """Stop the TLS node serving server_cert, if it runs."""
    _run(
        [str(SCRIPTS / "rabbit_node.sh"), "stop", TLS_NODES[server_cert][0]],
        NODE_TIMEOUT,
    )


def stop_tls_nodes(server_certs: Iterable[str] = tuple(TLS_NODES)) -> None:
    """Stop the TLS nodes for several server certificates at once."""
    certs = list(server_certs)
    with ThreadPoolExecutor(max_workers=len(certs)) as pool:
        list(pool.map(stop_tls_node, certs))


def ensure_cluster() -> list[int]:
    """Start the three-node cluster (if needed); return the nodes' AMQP ports."""
    _run([str(SCRIPTS / "cluster.sh"), "start"], CLUSTER_TIMEOUT)
    return list(CLUSTER_AMQP_PORTS)


def stop_cluster_node(i: int) -> None:
    """Stop cluster node i (1-3) entirely; it stays a member of the cluster."""
    _run([str(SCRIPTS / "cluster.sh"), "stop-node", str(i)], NODE_TIMEOUT)


def start_cluster_node(i: int) -> None:
    """Start cluster node i (1-3) again and make sure it is back in the cluster."""
    _run([str(SCRIPTS / "cluster.sh"), "start-node", str(i)], NODE_TIMEOUT)


def stop_cluster() -> None:
    """Stop all cluster nodes and remove the cluster's data."""
    _run([str(SCRIPTS / "cluster.sh"), "stop"], CLUSTER_TIMEOUT)
