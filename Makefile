# Every target bootstraps what it needs: the venv, and a RabbitMQ broker at the
# configured address (installed and started when none answers).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CONF ?= broker.ini
REQUIREMENTS := requirements.txt requirements-test.txt requirements-plot.txt requirements-progress.txt requirements-lint.txt

.PHONY: test test-long test-unit test-cluster test-ha demo bench lint venv broker browser live clean

venv:
	@bash scripts/ensure_venv.sh $(VENV) $(REQUIREMENTS)

broker:
	@bash scripts/ensure_broker.sh $(CONF)

# Headless Chromium for the live view's browser test (tests/integration/test_live.py).
browser:
	@bash scripts/ensure_chromium.sh

test: venv broker browser
	$(PY) scripts/run_tests.py --long exclude

# The soak-length tests (LONG in scripts/run_tests.py: minutes of real time); CI runs them too.
test-long: venv broker browser
	$(PY) scripts/run_tests.py --label long --long only

# The unit suite alone: no broker, no subprocess, no set-up beyond the venv.
test-unit: venv
	$(PY) scripts/run_tests.py --label unit tests/unit

lint: venv
	$(VENV)/bin/ruff check pv_simulator tests scripts tools benchmarks demo_meter.py demo_pv_service.py
	$(VENV)/bin/mypy

# Benchmarks: figures against a bare pika baseline measured in the same run.
# QUICK=1: seconds, small N, only to show they run (CI).
bench: venv broker
	$(PY) -m benchmarks.run $(if $(QUICK),--quick,)

demo: venv broker
	$(PY) scripts/demo.py

# The live view of the PV results at http://127.0.0.1:8050/ (Ctrl-C stops it).
live: venv broker
	$(PY) -m pv_simulator.live -conf $(CONF)

clean:
	rm -rf $(VENV) demo-out bench-results.json

# A three-node RabbitMQ cluster on loopback (scripts/cluster.sh), quorum queues, a node stopped mid-stream.
test-cluster: venv broker
	PV_CLUSTER_TESTS=1 $(PY) scripts/run_tests.py --label cluster tests.integration.test_cluster

# Home Assistant 2024.3 in a venv of its own (.venv-ha), discovery and availability end to end.
test-ha: venv broker
	@bash scripts/ensure_home_assistant.sh .venv-ha
	PV_HA_TESTS=1 $(PY) scripts/run_tests.py --label home-assistant tests.integration.test_home_assistant \
		tests.integration.test_home_assistant_modbus
