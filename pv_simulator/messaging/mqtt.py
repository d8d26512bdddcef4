"""An MQTT client (paho-mqtt) for what AMQP cannot set: retained messages and a last will.

The PV service's Home Assistant output publishes through it: discovery configs and the
per-meter state retained, and an availability topic that is ``online`` while connected and
turns ``offline`` by the broker's last will when the service dies (or by :meth:`close` when it
stops). When HA announces itself on ``<discovery_prefix>/status`` with ``online`` the
``on_birth`` callback runs: RabbitMQ's MQTT plugin does not deliver retained messages to
wildcard subscriptions, which is how HA subscribes to discovery, so republishing on HA's
birth is what brings its entities back after an HA restart.

The connection takes [broker]'s host, TLS and credentials; for a virtual host other than
``/`` the login is ``VHOST:USER``, which RabbitMQ's MQTT plugin reads as that vhost. The paho
network loop runs in its own thread and reconnects by itself; publishing while disconnected
queues in paho (QoS 1) until the connection is back.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
import uuid
from collections.abc import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from pv_simulator.config.broker import BrokerConfig
from pv_simulator.messaging.port import BrokerUnavailable

log = logging.getLogger(__name__)


class MqttUnavailable(BrokerUnavailable):
    """The MQTT broker did not accept a connection in time; the message says where and why."""


def login(broker: BrokerConfig) -> str:
    """The MQTT username: ``VHOST:USER`` when the virtual host is not ``/``."""
    return broker.username if broker.virtual_host == "/" else f"{broker.virtual_host}:{broker.username}"


class MqttPublisher:
    """A connected paho client with a retained availability topic and its last will.

    Args:
        broker: host, TLS and credentials ([broker]).
        port: the MQTT port ([output] mqtt_port).
        availability_topic: ``online`` (retained) on each connection, ``offline`` by will or close.
        birth_topic: subscribed; an ``online`` there calls ``on_birth`` (HA's status topic).
        on_birth: runs in paho's thread, on HA's birth and on every (re)connection.
    """

    def __init__(self, broker: BrokerConfig, port: int, availability_topic: str,
                 birth_topic: str | None = None, on_birth: Callable[[], None] | None = None) -> None:
        self.host = broker.host
        self.port = port
        self.availability_topic = availability_topic
        self.birth_topic = birth_topic
        self.on_birth = on_birth
        self._connected = threading.Event()
        self._refused = ""
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"pv-service-{uuid.uuid4().hex[:12]}",
                             protocol=paho.MQTTv311, clean_session=True)
        client.username_pw_set(login(broker), broker.password)
        if broker.tls is not None:
            context = ssl.create_default_context(
                cafile=str(broker.tls.ca_file) if broker.tls.ca_file else None)
            if broker.tls.cert_file is not None:
                context.load_cert_chain(str(broker.tls.cert_file),
                                        str(broker.tls.key_file) if broker.tls.key_file else None)
            client.tls_set_context(context)
            if broker.tls.server_hostname:
                self.host = broker.tls.server_hostname
        client.will_set(availability_topic, "offline", qos=1, retain=True)
        client.reconnect_delay_set(1, 5)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        self.client = client

    def connect(self, timeout_s: float = 10.0) -> None:
        """Connect and start the network thread; return once the broker accepted the login.

        Raises:
            MqttUnavailable: no connection within ``timeout_s``, or the login was refused.
        """
        where = f"[output] mqtt_port: mqtt://{self.host}:{self.port}"
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except (OSError, ssl.SSLError) as exc:
            raise MqttUnavailable(f"{where}: cannot connect: {exc}") from None
        self.client.loop_start()
        deadline = time.monotonic() + timeout_s
        while not self._connected.wait(0.05):
            if self._refused or time.monotonic() >= deadline:
                self.client.loop_stop()
                raise MqttUnavailable(f"{where}: {self._refused or f'no answer within {timeout_s:.0f} s'}")

    def publish(self, topic: str, payload: bytes | str, retain: bool = True) -> None:
        """Publish at QoS 1; paho keeps it until the broker acknowledged it, across reconnections."""
        self.client.publish(topic, payload, qos=1, retain=retain)

    def close(self, timeout_s: float = 5.0) -> None:
        """Say ``offline``, wait for the broker to take it, and disconnect."""
        info = self.client.publish(self.availability_topic, "offline", qos=1, retain=True)
        try:
            info.wait_for_publish(timeout_s)
        except (RuntimeError, ValueError) as exc:
            log.warning("MQTT: could not say offline before stopping: %s", exc)
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: paho.Client, _userdata: object, _flags: object,
                    reason: ReasonCode, _properties: object) -> None:
        if reason.is_failure:
            self._refused = f"connection refused: {reason}"
            return
        client.publish(self.availability_topic, "online", qos=1, retain=True)
        if self.birth_topic is not None:
            client.subscribe(self.birth_topic, qos=1)
        if self.on_birth is not None:
            self.on_birth()
        self._connected.set()

    def _on_message(self, _client: paho.Client, _userdata: object, message: paho.MQTTMessage) -> None:
        if message.topic == self.birth_topic and message.payload == b"online" and self.on_birth is not None:
            log.info("Home Assistant is online (%s): publishing the discovery configs again", message.topic)
            self.on_birth()
