"""The session contract (tests/contract/session_contract.py) against the in-memory fake broker."""

from __future__ import annotations

import unittest

from pv_simulator.messaging.fake import FakeBroker
from pv_simulator.messaging.port import Session
from tests.contract import session_contract


class FakeSessionContractTest(session_contract.SessionContract):
    def prepare(self) -> None:
        self.broker = FakeBroker()

    def open_session(self) -> Session:
        return self.broker.connector().open(0)

    def lose_connections(self) -> None:
        self.broker.drop_connections()

    def declare_exchange(self, name: str, exchange_type: str) -> None:
        self.broker.exchanges.add(name)
        self.broker.exchange_types[name] = exchange_type

    def set_blocked(self, blocked: bool) -> None:
        self.broker.blocked = blocked


if __name__ == "__main__":
    unittest.main()
