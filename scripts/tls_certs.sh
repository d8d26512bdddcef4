#!/usr/bin/env bash
# Generate the TLS material for the broker's TLS tests into DIR:
#   ca.pem ca.key                 test CA that signs everything below
#   wrong_ca.pem                  an unrelated CA (a client trusting it must refuse the server)
#   server.pem server.key         CN/SAN localhost + IP 127.0.0.1, valid
#   client.pem client.key         client certificate (clientAuth), valid
#   expired_server.pem/.key       like server.pem but valid only in 2020
#   wrong_host_server.pem/.key    valid, but for not-this-host.example only
# Idempotent: every file already present is kept. A new CA invalidates every
# certificate signed by the old one, so those are made again with it.
# Usage: scripts/tls_certs.sh DIR
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir="$1"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
# The broker runs as the rabbitmq user (Debian's wrapper switches to it even
# when started by root), so it must be able to reach the files in here.
chmod 755 "$dir"
# Tests may ask for the same certificates from several processes at once: one
# run at a time, or two could each make a CA and mix up the results.
exec 9>"$dir/.lock"
flock 9

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Private keys the broker reads are group-readable by rabbitmq where that group
# exists and we may hand files to it; the CA keys stay private to their owner.
share_key() {
    if getent group rabbitmq >/dev/null && chgrp rabbitmq "$1" 2>/dev/null; then
        chmod 640 "$1"
    else
        chmod 600 "$1"
    fi
}

# A minimal `openssl ca` setup: unlike `openssl x509 -req` in OpenSSL 3.0,
# `openssl ca` takes explicit -startdate/-enddate, which the expired
# certificate needs. Its database is throw-away: serials are random.
cat >"$work/ca.cnf" <<'EOF'
[ca]
default_ca = test_ca

[test_ca]
database        = $ENV::CA_WORK/index.txt
new_certs_dir   = $ENV::CA_WORK
serial          = $ENV::CA_WORK/serial
default_md      = sha256
policy          = any_policy
unique_subject  = no
copy_extensions = none
email_in_dn     = no

[any_policy]
commonName = supplied

[req]
distinguished_name = req_dn
prompt             = no

[req_dn]
CN = unused

# Extensions are strict enough for Python's VERIFY_X509_STRICT (3.13 default).
[ca_ext]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash

[leaf_ext]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = $ENV::CERT_USAGE
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
subjectAltName         = $ENV::CERT_SAN
EOF
export CA_WORK="$work"
# openssl expands $ENV:: in every section on load, so this must always be set.
export CERT_SAN="DNS:unused" CERT_USAGE="serverAuth"

# make_ca NAME CN: self-signed CA NAME.pem / NAME.key, ten years.
make_ca() {
    openssl req -x509 -new -newkey rsa:2048 -nodes -days 3650 \
        -config "$work/ca.cnf" -extensions ca_ext -subj "/CN=$2" \
        -keyout "$work/$1.key" -out "$work/$1.pem" 2>/dev/null
    chmod 600 "$work/$1.key"
    mv "$work/$1.key" "$dir/$1.key"
    mv "$work/$1.pem" "$dir/$1.pem"
}

# make_leaf NAME CN SAN USAGE START END: key + certificate signed by ca.pem for USAGE
# (serverAuth or clientAuth),
# valid from START to END (YYYYMMDDHHMMSSZ). Written to a scratch dir first
# and moved into place, so an interrupted run leaves no half-made pair.
make_leaf() {
    local name="$1" cn="$2" san="$3" usage="$4" start="$5" end="$6"
    : >"$work/index.txt"
    openssl rand -hex 16 >"$work/serial"
    openssl req -new -newkey rsa:2048 -nodes -config "$work/ca.cnf" \
        -subj "/CN=$cn" -keyout "$work/$name.key" -out "$work/$name.csr" 2>/dev/null
    CERT_SAN="$san" CERT_USAGE="$usage" openssl ca -batch -notext -config "$work/ca.cnf" \
        -cert "$dir/ca.pem" -keyfile "$dir/ca.key" -extensions leaf_ext \
        -startdate "$start" -enddate "$end" \
        -in "$work/$name.csr" -out "$work/$name.pem" 2>"$work/ca.log" || {
        cat "$work/ca.log" >&2
        exit 1
    }
    share_key "$work/$name.key"
    mv "$work/$name.key" "$dir/$name.key"
    mv "$work/$name.pem" "$dir/$name.pem"
}

# have NAME: both NAME.pem and NAME.key exist.
have() { [ -s "$dir/$1.pem" ] && [ -s "$dir/$1.key" ]; }

leaves=(server client expired_server wrong_host_server)
if ! have ca; then
    for leaf in "${leaves[@]}"; do rm -f "$dir/$leaf.pem" "$dir/$leaf.key"; done
    make_ca ca "pv-simulator test CA"
fi
have wrong_ca || make_ca wrong_ca "pv-simulator unrelated CA"

# Valid certificates: from yesterday (tolerates a little clock skew) for ten years.
now_start="$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)"
now_end="$(date -u -d '+3650 days' +%Y%m%d%H%M%SZ)"
localhost_san="DNS:localhost,IP:127.0.0.1"

have server || make_leaf server localhost "$localhost_san" serverAuth "$now_start" "$now_end"
have client || make_leaf client pv-simulator-client "DNS:pv-simulator-client" clientAuth "$now_start" "$now_end"
have expired_server ||
    make_leaf expired_server localhost "$localhost_san" serverAuth 20200101000000Z 20210101000000Z
have wrong_host_server ||
    make_leaf wrong_host_server not-this-host.example "DNS:not-this-host.example" serverAuth "$now_start" "$now_end"

echo "tls_certs: certificates in $dir"
