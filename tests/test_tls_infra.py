"""Smoke test of the TLS and cluster test infrastructure, with raw pika.

Temporary: it checks scripts/tls_certs.sh, scripts/rabbit_node.sh,
scripts/cluster.sh and tests/rabbit_nodes.py until the broker code's own TLS
and cluster tests use them. Every node it starts is stopped again.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import unittest
import uuid

import pika

from tests import rabbit_nodes

# OpenSSL's X509_V_ERR_* codes that SSLCertVerificationError.verify_code carries.
X509_CERT_HAS_EXPIRED = 10
X509_SELF_SIGNED_CERT_IN_CHAIN = 19
X509_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
X509_HOSTNAME_MISMATCH = 62

MESSAGES = 1000
RABBITMQCTL = shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"


def tls_params(
    node: rabbit_nodes.TlsNode, cafile: str, client_cert: bool = False
) -> pika.ConnectionParameters:
    """Connection parameters for node's TLS port, trusting cafile only."""
    context = ssl.create_default_context(cafile=cafile)
    if client_cert:
        context.load_cert_chain(str(node.client_cert), str(node.client_key))
    return pika.ConnectionParameters(
        host=node.host,
        port=node.tls_port,
        ssl_options=pika.SSLOptions(context, server_hostname="localhost"),
        connection_attempts=1,
    )


class TlsNodeTest(unittest.TestCase):
    """One TLS node per server certificate: valid, expired, wrong host name."""

    nodes: dict[str, rabbit_nodes.TlsNode]

    @classmethod
    def setUpClass(cls) -> None:
        # Registered first, so that nodes of a half-failed start are stopped too.
        cls.addClassCleanup(rabbit_nodes.stop_tls_nodes)
        cls.nodes = rabbit_nodes.ensure_tls_nodes()

    def assert_refused(
        self, params: pika.ConnectionParameters, codes: set[int], text: str
    ) -> None:
        """The TLS handshake fails on the client's check of the server certificate."""
        # pika hands the ssl module's exception through unwrapped.
        with self.assertRaises(ssl.SSLCertVerificationError) as caught:
            pika.BlockingConnection(params)
        self.assertIn(caught.exception.verify_code, codes)
        self.assertIn(text, str(caught.exception))

    def test_right_ca_connects(self) -> None:
        node = self.nodes["server"]
        with pika.BlockingConnection(tls_params(node, str(node.ca_file))) as conn:
            self.assertTrue(conn.is_open)

    def test_client_certificate_accepted(self) -> None:
        node = self.nodes["server"]
        params = tls_params(node, str(node.ca_file), client_cert=True)
        with pika.BlockingConnection(params) as conn:
            self.assertTrue(conn.is_open)
            # The broker verified and kept the certificate the client offered.
            subjects = subprocess.run(
                [
                    RABBITMQCTL,
                    "-q",
                    "-n",
                    node.node_name,
                    "list_connections",
                    "peer_cert_subject",
                ],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
            self.assertIn("CN=pv-simulator-client", subjects)

    def test_wrong_ca_refused(self) -> None:
        node = self.nodes["server"]
        # The node sends its CA along, so OpenSSL reports the untrusted root
        # (19) rather than a missing issuer (20); both mean "unknown CA".
        self.assert_refused(
            tls_params(node, str(node.wrong_ca_file)),
            {X509_SELF_SIGNED_CERT_IN_CHAIN, X509_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
            "certificate verify failed",
        )

    def test_expired_certificate_refused(self) -> None:
        node = self.nodes["expired_server"]
        self.assert_refused(
            tls_params(node, str(node.ca_file)),
            {X509_CERT_HAS_EXPIRED},
            "certificate has expired",
        )

    def test_wrong_host_name_refused(self) -> None:
        node = self.nodes["wrong_host_server"]
        self.assert_refused(
            tls_params(node, str(node.ca_file)),
            {X509_HOSTNAME_MISMATCH},
            "Hostname mismatch",
        )


class ClusterTest(unittest.TestCase):
    """A quorum queue keeps every confirmed message when one of three nodes stops."""

    ports: list[int]

    @classmethod
    def setUpClass(cls) -> None:
        cls.addClassCleanup(rabbit_nodes.stop_cluster)
        cls.ports = rabbit_nodes.ensure_cluster()

    def connect(self, i: int) -> pika.BlockingConnection:
        """A connection to cluster node i (1-3), closed at the end of the test."""
        conn = pika.BlockingConnection(
            pika.ConnectionParameters(
                "localhost", self.ports[i - 1], connection_attempts=1
            )
        )
        self.addCleanup(lambda: conn.close() if conn.is_open else None)
        return conn

    def test_quorum_queue_survives_node_stop(self) -> None:
        queue = f"smoke-{uuid.uuid4().hex[:8]}"
        ch1 = self.connect(1).channel()
        ch1.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})

        pub = self.connect(2)
        ch2 = pub.channel()
        ch2.confirm_delivery()
        for i in range(MESSAGES):
            # With confirms on, basic_publish returns once the queue's
            # majority has the message, and raises if the broker nacks it.
            ch2.basic_publish("", queue, str(i).encode(), mandatory=True)
        pub.close()

        rabbit_nodes.stop_cluster_node(3)

        received: list[int] = []
        for method, _props, body in ch1.consume(queue, inactivity_timeout=10):
            if method is None:
                break
            assert body is not None and method.delivery_tag is not None
            received.append(int(body))
            ch1.basic_ack(method.delivery_tag)
            if len(received) == MESSAGES:
                break
        ch1.cancel()
        self.assertEqual(sorted(received), list(range(MESSAGES)))

        # Node 3 comes back as a cluster member: it knows the queue.
        rabbit_nodes.start_cluster_node(3)
        ch3 = self.connect(3).channel()
        self.assertEqual(ch3.queue_declare(queue, passive=True).method.message_count, 0)
        ch3.queue_delete(queue)


if __name__ == "__main__":
    unittest.main()
