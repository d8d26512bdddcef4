#!/usr/bin/env bash
# A three-node RabbitMQ cluster on loopback for the cluster tests (quorum
# queues need at least three nodes): pvc1, pvc2, pvc3 at NAME@HOST (HOST: the
# short host name), AMQP on 127.0.0.1:5681, 5682, 5683, distribution on
# 25681-25683, data under $RABBIT_NODES_DIR/cluster (default base /tmp/pv-sim-rabbit).
# Nodes are started with scripts/rabbit_node.sh; pvc2 and pvc3 join pvc1.
#
# Usage:
#   scripts/cluster.sh start          start all nodes and form the cluster (idempotent)
#   scripts/cluster.sh stop           stop all nodes and remove the cluster's data
#   scripts/cluster.sh status         print each node's state; exit 0 when all run clustered, else 3
#   scripts/cluster.sh stop-node N    stop node N entirely (it stays a cluster member)
#   scripts/cluster.sh start-node N   start node N again and make sure it is in the cluster
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
log_prefix="cluster"
# shellcheck source=scripts/rabbit_env.sh
. "$here/rabbit_env.sh"
cluster_dir="$nodes_root/cluster"
seed="pvc1@$host"

usage() {
    sed -n 's/^#   //p' "$0" >&2
    exit 2
}

# rabbit_node ARGS...: rabbit_node.sh with this cluster's data dir.
rabbit_node() { RABBIT_NODES_DIR="$cluster_dir" "$here/rabbit_node.sh" "$@"; }

check_n() {
    case "${1:-}" in
        1|2|3) ;;
        *) die "node number must be 1, 2 or 3, not '${1:-}'" ;;
    esac
}

# cluster_nodes N KIND: the members of KIND (disk_nodes or running_nodes) that
# node N sees, one a line; nothing when node N does not answer.
cluster_nodes() {
    local status
    status="$(rabbitmqctl -q -n "pvc$1@$host" cluster_status --formatter json 2>/dev/null)" || return 0
    python3 -c 'import json, sys; print("\n".join(json.loads(sys.argv[1]).get(sys.argv[2], [])))' \
        "$status" "$2"
}

# join N: make node N (running) a member of pvc1's cluster unless it is one.
join() {
    local node="pvc$1@$host"
    [ "$1" -ne 1 ] || return 0
    if cluster_nodes "$1" disk_nodes | grep -qxF "$seed"; then
        return 0
    fi
    log "joining $node to $seed"
    local step out
    # join_cluster logs harmless warnings and errors about tables of the node
    # that is joining (feature flags, tracked connections): show them only
    # when a step fails.
    for step in stop_app "join_cluster $seed" start_app; do
        # shellcheck disable=SC2086 # step is a command and its argument
        out="$(rabbitmqctl -q -n "$node" $step 2>&1)" || {
            echo "$out" >&2
            die "'rabbitmqctl -n $node $step' failed"
        }
    done
}

# run_all CMD N...: run `CMD N` for every N in parallel; fail if any failed.
run_all() {
    local cmd="$1" n failed=0
    shift
    local pids=()
    for n in "$@"; do
        "$cmd" "$n" &
        pids+=("$!")
    done
    for n in "${pids[@]}"; do
        wait "$n" || failed=1
    done
    [ "$failed" -eq 0 ] || die "$cmd failed for some of nodes $*"
}

start_node() { rabbit_node start "pvc$1" $((5680 + $1)); }
stop_node() { rabbit_node stop "pvc$1"; }

# wait_running: until pvc1 sees all three nodes running, bounded.
wait_running() {
    local deadline=$((SECONDS + 60))
    until [ "$(cluster_nodes 1 running_nodes | grep -c "^pvc[123]@$host$")" -eq 3 ]; do
        [ "$SECONDS" -lt "$deadline" ] || die "not all three nodes run in the cluster after 60s"
        sleep 1
    done
}

do_status() {
    local n all=0
    for n in 1 2 3; do
        printf 'pvc%s@%s amqp 127.0.0.1:%s %s\n' "$n" "$host" $((5680 + n)) \
            "$(rabbit_node status "pvc$n" || true)"
    done
    echo "running in the cluster (as pvc1 sees it): $(cluster_nodes 1 running_nodes | tr '\n' ' ')"
    [ "$(cluster_nodes 1 running_nodes | grep -c "^pvc[123]@$host$")" -eq 3 ] || all=3
    exit "$all"
}

action="${1:-}"
case "$action" in
    start)
        [ $# -eq 1 ] || usage
        t0=$SECONDS
        # Fresh nodes boot independently, so start them together (two cores:
        # this is still faster than one after the other), then join.
        run_all start_node 1 2 3
        join 2
        join 3
        wait_running
        log "running: pvc1..3 on 127.0.0.1:5681-5683, ready in $((SECONDS - t0))s"
        ;;
    stop)
        [ $# -eq 1 ] || usage
        run_all stop_node 1 2 3
        rm -rf "$cluster_dir"
        log "stopped, $cluster_dir removed"
        ;;
    status)
        [ $# -eq 1 ] || usage
        do_status
        ;;
    stop-node)
        [ $# -eq 2 ] || usage
        check_n "$2"
        stop_node "$2"
        ;;
    start-node)
        [ $# -eq 2 ] || usage
        check_n "$2"
        # A member that was stopped rejoins by itself on boot; join() only acts
        # when the node is not (or no longer) a member.
        start_node "$2"
        join "$2"
        ;;
    *) usage ;;
esac
