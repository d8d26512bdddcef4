"""A live view in the browser of the PV service's results, as they stream over RabbitMQ.

``python -m pv_simulator.live`` (or ``pv-live``) consumes the results from the
topic exchange, aggregates them in simulated time (:mod:`.aggregate`) and
serves a page that redraws in place from a Server-Sent Events stream
(:mod:`.server`).
"""
