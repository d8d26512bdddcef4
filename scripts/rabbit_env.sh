# Sourced by scripts/rabbit_node.sh and scripts/cluster.sh (set log_prefix first): where the
# extra RabbitMQ nodes live, this host's short name, and the scripts' one-line messages.
export PATH="$PATH:/usr/sbin"
host="$(hostname -s)"
nodes_root="${RABBIT_NODES_DIR:-/tmp/pv-sim-rabbit}"
log() { echo "$log_prefix: $*"; }
die() { echo "$log_prefix: $*" >&2; exit 1; }
