#!/usr/bin/env bash
# Start, stop or query an extra, isolated RabbitMQ node on this machine, next
# to (and never touching) the default node rabbit@HOST on 5672/25672.
#
# Usage:
#   scripts/rabbit_node.sh start  NAME AMQP_PORT [--tls DIR --tls-port PORT [--server-cert CERT]]
#   scripts/rabbit_node.sh stop   NAME
#   scripts/rabbit_node.sh status NAME
#
# The node is NAME@HOST (HOST: the short host name, `hostname -s`), listens for
# AMQP on 127.0.0.1:AMQP_PORT and for Erlang distribution on
# 127.0.0.1:AMQP_PORT+20000, and keeps its config, data, logs and pid file in
# $RABBIT_NODES_DIR/NAME (default base /tmp/pv-sim-rabbit). With --tls it also
# listens for AMQPS on 127.0.0.1:PORT with DIR/ca.pem and DIR/CERT.pem/.key
# (CERT defaults to `server`; see scripts/tls_certs.sh), verifying a client
# certificate when one is offered but not requiring one.
#
# start on a running node with the same configuration is a no-op; with another
# configuration it fails (stop it first). stop waits until the OS process is gone.
# status prints running/stopped and exits 0/3.
# Must run as root (or rabbitmq): Debian's wrappers switch to the rabbitmq user,
# so the node and the CLI both use /var/lib/rabbitmq/.erlang.cookie.
set -euo pipefail
# Dirs made here must be traversable by the rabbitmq user.
umask 022

usage() {
    sed -n 's/^#   //p' "$0" >&2
    exit 2
}

[ $# -ge 2 ] || usage
action="$1"
name="$2"
shift 2
case "$name" in
    ''|*[!a-zA-Z0-9_-]*) echo "rabbit_node: bad node name '$name'" >&2; exit 2 ;;
    rabbit) echo "rabbit_node: 'rabbit' is the default node's name: choose another" >&2; exit 2 ;;
esac

log_prefix="rabbit_node[$name]"
# shellcheck source=scripts/rabbit_env.sh
. "$(cd "$(dirname "$0")" && pwd)/rabbit_env.sh"
node="$name@$host"
dir="$nodes_root/$name"
pid_file="$dir/$name.pid"
start_timeout="${RABBIT_NODE_START_TIMEOUT:-120}"
stop_timeout="${RABBIT_NODE_STOP_TIMEOUT:-60}"

# True when the node's runtime is up and reachable over distribution.
node_up() { rabbitmq-diagnostics -q -n "$node" ping >/dev/null 2>&1; }

# True when the RabbitMQ application runs on the node (not after stop_app).
app_up() { rabbitmq-diagnostics -q -n "$node" check_running >/dev/null 2>&1; }

# The node's OS pid from its pid file, if that process still lives and is
# this node: pid files outlive crashed nodes and pids get reused, so the
# process must carry this node's pid file in its environment.
node_pid() {
    local pid
    [ -s "$pid_file" ] || return 1
    pid="$(tr -dc 0-9 <"$pid_file")"
    [ -n "$pid" ] && [ -r "/proc/$pid/environ" ] || return 1
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF -- "RABBITMQ_PID_FILE=$pid_file" || return 1
    echo "$pid"
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_taken() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

tail_log() {
    local f
    for f in "$dir/log/startup_out" "$dir/log/$node.log"; do
        [ -s "$f" ] && { echo "--- last lines of $f:"; tail -n 30 "$f"; }
    done >&2
    return 0
}

do_status() {
    if app_up; then
        echo running
        exit 0
    elif node_up; then
        echo "app stopped"
    else
        echo stopped
    fi
    exit 3
}

do_stop() {
    local deadline pid
    if node_up; then
        log "stopping $node"
        # `stop` with the pid file waits for the runtime to exit, bounded here.
        timeout "$stop_timeout" rabbitmqctl -q -n "$node" stop --idempotent "$pid_file" >/dev/null 2>&1 || true
    fi
    # Last resort for a node that ignores stop or no longer answers over
    # distribution: signal exactly the process our pid file names (checked to
    # be this node by its environment), nothing else.
    deadline=$((SECONDS + stop_timeout))
    while pid="$(node_pid)"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "pid $pid did not stop: killing it"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 1
            break
        fi
        # Half the time for a clean stop, then SIGTERM (RabbitMQ shuts down on it).
        if [ "$SECONDS" -ge $((deadline - stop_timeout / 2)) ]; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
        sleep 0.5
    done
    ! node_pid >/dev/null || die "process $(node_pid) of $node is still alive"
    log "stopped"
}

do_start() {
    local tls_dir="" tls_port="" cert="server" amqp_port dist_port pid p f
    [ $# -ge 1 ] || usage
    amqp_port="$1"
    shift
    case "$amqp_port" in
        ''|*[!0-9]*) die "bad AMQP port '$amqp_port'" ;;
    esac
    while [ $# -gt 0 ]; do
        case "$1" in
            --tls) tls_dir="${2:?--tls needs a directory}"; shift 2 ;;
            --tls-port) tls_port="${2:?--tls-port needs a port}"; shift 2 ;;
            --server-cert) cert="${2:?--server-cert needs a name}"; shift 2 ;;
            *) usage ;;
        esac
    done
    if [ -n "$tls_dir" ] || [ -n "$tls_port" ]; then
        if [ -z "$tls_dir" ] || [ -z "$tls_port" ]; then
            die "--tls and --tls-port go together"
        fi
        tls_dir="$(cd "$tls_dir" && pwd)"
        for f in ca.pem "$cert.pem" "$cert.key"; do
            [ -r "$tls_dir/$f" ] || die "$tls_dir/$f is missing: run scripts/tls_certs.sh $tls_dir"
            # Else the node starts but its TLS listener fails on each handshake.
            if [ "$(id -u)" -eq 0 ] && id rabbitmq >/dev/null 2>&1; then
                runuser -u rabbitmq -- test -r "$tls_dir/$f" ||
                    die "the rabbitmq user cannot read $tls_dir/$f (check the modes of it and its parent dirs)"
            fi
        done
    fi
    dist_port=$((amqp_port + 20000))
    # Never share a port with the default node (5672, its distribution port
    # 25672, management 15672) or with each other.
    for p in "$amqp_port" "$dist_port" $tls_port; do
        case "$p" in
            5672|25672|15672) die "port $p belongs to the default node" ;;
        esac
    done

    # The whole configuration, so a start request can be compared with what runs.
    # The AMQP and distribution listeners come from RABBITMQ_NODE_* below; the
    # comment records them so that a different port counts as another config.
    conf="$(mktemp)"
    trap 'rm -f "$conf"' EXIT
    {
        echo "# Written by scripts/rabbit_node.sh for $node: amqp 127.0.0.1:$amqp_port, dist $dist_port."
        if [ -n "$tls_dir" ]; then
            echo "listeners.ssl.default = 127.0.0.1:$tls_port"
            echo "ssl_options.cacertfile = $tls_dir/ca.pem"
            echo "ssl_options.certfile = $tls_dir/$cert.pem"
            echo "ssl_options.keyfile = $tls_dir/$cert.key"
            echo "ssl_options.verify = verify_peer"
            echo "ssl_options.fail_if_no_peer_cert = false"
        fi
        # Test nodes must not block publishers because a busy shared /tmp
        # dips under the default 50 MB free-disk alarm threshold.
        echo "disk_free_limit.absolute = 10MB"
        echo "log.file.level = info"
        echo "log.console = false"
    } >"$conf"

    if node_up; then
        cmp -s "$conf" "$dir/rabbitmq.conf" ||
            die "already running with another configuration ($dir/rabbitmq.conf): stop it first"
        # A node left with its app stopped (say, by an interrupted cluster
        # join) only needs the app started again.
        if ! app_up; then
            log "runtime up, starting its app"
            rabbitmqctl -q -n "$node" start_app >/dev/null
        fi
        log "already running"
        return 0
    fi

    # A node of ours that lives but does not answer would hold the ports.
    if pid="$(node_pid)"; then
        die "process $pid of $node lives but does not answer: run '$0 stop $name'"
    fi
    for p in "$amqp_port" "$dist_port" $tls_port; do
        ! port_taken "$p" || die "port $p is already in use on 127.0.0.1"
    done

    mkdir -p "$dir/mnesia" "$dir/log"
    cp "$conf" "$dir/rabbitmq.conf"
    # No plugins at all: the management plugin would claim port 15672.
    : >"$dir/enabled_plugins"
    # Nothing from /etc/rabbitmq/rabbitmq-env.conf: this node is configured here only.
    : >"$dir/rabbitmq-env.conf"
    # Debian's wrapper runs the node as the rabbitmq user, which must own its dirs.
    if id rabbitmq >/dev/null 2>&1; then
        chmod 755 "$nodes_root"
        chown -R rabbitmq:rabbitmq "$dir"
    fi

    log "starting $node (amqp 127.0.0.1:$amqp_port, dist $dist_port${tls_port:+, amqps 127.0.0.1:$tls_port with $cert.pem})"
    local t0=$SECONDS
    (
        cd "$dir"
        export RABBITMQ_NODENAME="$node" \
            RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
            RABBITMQ_NODE_PORT="$amqp_port" \
            RABBITMQ_DIST_PORT="$dist_port" \
            RABBITMQ_MNESIA_BASE="$dir/mnesia" \
            RABBITMQ_LOG_BASE="$dir/log" \
            RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf" \
            RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config" \
            RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" \
            RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" \
            RABBITMQ_PID_FILE="$pid_file" \
            ERL_CRASH_DUMP="$dir/log/erl_crash.dump" \
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
        rabbitmq-server -detached >"$dir/log/startup_out" 2>&1
    ) || { tail_log; die "rabbitmq-server -detached failed (see $dir/log/startup_out)"; }

    # await_startup fails at once until the node has registered with epmd, so
    # retry it until a deadline; give up early if the runtime died.
    local deadline=$((SECONDS + start_timeout)) seen_pid=0
    until rabbitmqctl -q -n "$node" await_startup --timeout 30 >/dev/null 2>&1; do
        if node_pid >/dev/null; then
            seen_pid=1
        elif [ "$seen_pid" -eq 1 ]; then
            tail_log
            die "node exited during startup"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail_log
            die "not started after ${start_timeout}s"
        fi
        sleep 1
    done
    log "started in $((SECONDS - t0))s"
}

case "$action" in
    start) do_start "$@" ;;
    stop) [ $# -eq 0 ] || usage; do_stop ;;
    status) [ $# -eq 0 ] || usage; do_status ;;
    *) usage ;;
esac
