#!/usr/bin/env bash
# Make sure a RabbitMQ broker answers at HOST:PORT: use one that already runs,
# else start the installed server, else install Debian's rabbitmq-server first.
# Idempotent; safe to run before every test or demo.
set -euo pipefail

# Usage: ensure_broker.sh [CONFIG_FILE]; host and port come from its [broker]
# section (defaults localhost:5672, also when the file is absent).
conf="${1:-broker.ini}"
read -r host port < <(python3 - "$conf" <<'PY'
import configparser, sys
parser = configparser.ConfigParser(interpolation=None)
parser.read(sys.argv[1])
broker = parser["broker"] if parser.has_section("broker") else {}
print(broker.get("host", "localhost").strip(), broker.get("port", "5672").strip())
PY
)

answers() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# RabbitMQ keeps a file open per queue, and every meter has two (its queue and
# its dead-letter queue). Debian's wrapper starts the server through su, whose
# PAM limits leave it 1,024 open files: past ~900 queues the broker reopens
# queue files all the time and a few thousand meters no longer keep up. So
# start it the way the wrapper does, with the soft limit raised to the hard one
# (raised first, as root, to at least 65,536 where allowed).
start_server() {
    if [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] && id rabbitmq >/dev/null 2>&1; then
        as_root sh -c 'ulimit -Hn 65536 2>/dev/null; ulimit -Sn 65536 2>/dev/null
            exec su rabbitmq -s /bin/sh -c "ulimit -n \$(ulimit -Hn) 2>/dev/null
                cd /var/lib/rabbitmq && exec /usr/lib/rabbitmq/bin/rabbitmq-server -detached"' || true
    else
        as_root rabbitmq-server -detached || true
    fi
}

# The PV service's results stream reaches MQTT clients (Home Assistant, mosquitto_sub)
# through RabbitMQ's MQTT plugin. Its listener defaults to every interface on 1883;
# enabled here, it listens on loopback only: the listener is set for the running node
# before the plugin starts. rabbitmq.conf is left alone (an mqtt.* key there stops the
# node from starting once the plugin is disabled), so a restarted node brings the plugin
# up on every interface again (unless rabbitmq.conf says `mqtt.listeners.tcp.1 =
# 127.0.0.1:1883`); the next run of this script restarts the plugin on loopback. Only
# for a broker on this machine.
ensure_mqtt() {
    case "$host" in localhost|127.*|::1) ;; *) return 0 ;; esac
    export PATH="$PATH:/usr/sbin"
    local listeners
    listeners=$(as_root rabbitmqctl -q eval 'application:get_env(rabbitmq_mqtt, tcp_listeners).' 2>/dev/null || true)
    if ! as_root rabbitmq-plugins -q list -e rabbitmq_mqtt 2>/dev/null | grep -q rabbitmq_mqtt ||
            [[ "$listeners" != *'"127.0.0.1",1883'* ]]; then
        # Also when a restarted node enabled the plugin from enabled_plugins, on every interface.
        as_root rabbitmq-plugins -q disable rabbitmq_mqtt >/dev/null 2>&1 || true
        as_root rabbitmqctl -q eval 'application:set_env(rabbitmq_mqtt, tcp_listeners,
            [{"127.0.0.1", 1883}], [{persistent, true}]).' >/dev/null
        as_root rabbitmq-plugins -q enable rabbitmq_mqtt >/dev/null
        listeners=$(as_root rabbitmqctl -q eval 'application:get_env(rabbitmq_mqtt, tcp_listeners).' 2>/dev/null || true)
    fi
    case "$listeners" in
        *'"127.0.0.1",1883'*) echo "broker: MQTT plugin enabled, listening on 127.0.0.1:1883" ;;
        *) echo "broker: MQTT plugin enabled, listeners $listeners (every interface; set" \
                "mqtt.listeners.tcp.1 = 127.0.0.1:1883 in rabbitmq.conf for loopback only)" ;;
    esac
}

if answers; then
    echo "broker: already answering at $host:$port"
    ensure_mqtt
    exit 0
fi

case "$host" in
    localhost|127.*|::1) ;;
    *) echo "broker: nothing answers at $host:$port, and it is not this machine: start it there" >&2; exit 1 ;;
esac

if ! command -v rabbitmq-server >/dev/null 2>&1 && [ ! -x /usr/sbin/rabbitmq-server ]; then
    echo "broker: installing Debian's rabbitmq-server"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # The package's post-install may try to start the service through an init
    # system the machine does not run; we start it ourselves below.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q rabbitmq-server || true
    command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ] || {
        echo "broker: rabbitmq-server could not be installed" >&2; exit 1; }
fi
export PATH="$PATH:/usr/sbin"

if ! answers; then
    echo "broker: starting rabbitmq-server"
    start_server
    # await_startup fails at once until the node has registered with epmd.
    for _ in $(seq 1 60); do
        as_root rabbitmqctl -q await_startup --timeout 120 >/dev/null 2>&1 && break
        sleep 2
    done
fi

for _ in $(seq 1 60); do
    if answers; then
        echo "broker: answering at $host:$port"
        ensure_mqtt
        exit 0
    fi
    sleep 1
done
echo "broker: rabbitmq-server started but nothing answers at $host:$port" >&2
exit 1
