"""The examples/ an integrator imports: valid JSON, naming topics the services really publish."""

from __future__ import annotations

import json
import unittest

from pv_simulator.services.home_assistant import state_topic
from pv_simulator.services.results import routing_key
from tests.paths import ROOT


class NodeRedFlowTest(unittest.TestCase):
    def test_its_mqtt_inputs_read_the_state_and_results_topics(self) -> None:
        flow = json.loads((ROOT / "examples" / "node-red-flow.json").read_text())
        nodes = {node["id"]: node for node in flow}
        inputs = [node for node in flow if node["type"] == "mqtt in"]
        self.assertEqual({node["topic"] for node in inputs},
                         {state_topic("Meter_0"), routing_key("+").replace(".", "/")})
        for node in flow:
            for wire in node.get("wires", []):
                for target in wire:
                    self.assertIn(target, nodes, f"{node['id']} wires to a missing node")
        self.assertTrue(all(nodes[node["broker"]]["type"] == "mqtt-broker" for node in inputs))


if __name__ == "__main__":
    unittest.main()
