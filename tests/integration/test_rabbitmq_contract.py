"""The session contract (tests/contract/session_contract.py) against the real RabbitMQ.

Its blocked-broker case raises the broker's memory alarm, which every client of the broker
sees: scripts/run_tests.py runs this module alone.
"""

from __future__ import annotations

import unittest

from pv_simulator.config import BrokerConfig
from pv_simulator.messaging.port import Session
from pv_simulator.messaging.rabbitmq import RabbitConnector
from tests.contract import session_contract
from tests.integration.support import HOST, PORT, BrokerTestCase, rabbitmqctl

#: A blocked connection is dropped this soon, so the blocked case takes seconds, not a minute.
BLOCKED_TIMEOUT_S = 2.0


class RabbitSessionContractTest(session_contract.SessionContract, BrokerTestCase):
    def prepare(self) -> None:
        self.delete_queues(meters=0, queues=[self.queue])
        self.connector = RabbitConnector(BrokerConfig(
            host=HOST, port=PORT, virtual_host=self.vhost, connection_attempts=1,
            blocked_connection_timeout_s=BLOCKED_TIMEOUT_S), "pv-simulator contract")

    def open_session(self) -> Session:
        return self.connector.open(0)

    def lose_connections(self) -> None:
        rabbitmqctl("close_all_connections", "--vhost", self.vhost, "contract: connection lost")

    def declare_exchange(self, name: str, exchange_type: str) -> None:
        channel = self.connection().channel()
        channel.exchange_declare(name, exchange_type=exchange_type, auto_delete=False)
        self.addCleanup(lambda: channel.is_open and channel.exchange_delete(name))

    def set_blocked(self, blocked: bool) -> None:
        rabbitmqctl("set_vm_memory_high_watermark", "0" if blocked else "0.4")


if __name__ == "__main__":
    unittest.main()
