#!/bin/sh
# Gives a partner read-only access to the partner-facing topics, and nothing else, on an Apache
# Kafka cluster that enforces ACLs (see deploy/kafka/README.md). Strimzi users: apply
# deploy/kafka/partner-kafkauser.yaml instead.
#
#   deploy/kafka/partner-acls.sh add <partner>       # SCRAM user partner-<partner>, ACLs, quota
#   deploy/kafka/partner-acls.sh remove <partner>    # the same, taken back
#
# The principal User:partner-<partner> may Read and Describe the topics prefixed `public.` (every
# topic of contracts/partners.asyncapi.yaml, and no internal one: those are `vitawin.*`) and use
# the consumer groups prefixed `partner-<partner>-`. No Write, no Create, no Alter, no cluster
# operation, no other topic or group. Its consumption is capped (1 MiB/s) so that one partner
# cannot starve the others.
#
# Environment: KAFKA_BOOTSTRAP [kafka:9092], KAFKA_ADMIN_CONFIG [/etc/kafka/admin.properties: the
# administrator's SASL/TLS client settings], KAFKA_BIN [/opt/kafka/bin], PARTNER_PASSWORD (add
# only: the SCRAM password given to the partner; one is generated and printed when unset).
set -eu

usage() { echo "usage: $0 add|remove <partner: lower-case letters, digits, '-'>" >&2; exit 2; }
[ $# -eq 2 ] || usage
ACTION=$1
PARTNER=$2
case "$ACTION" in add|remove) ;; *) usage ;; esac
case "$PARTNER" in ""|-*|*[!a-z0-9-]*) usage ;; esac

USER="partner-$PARTNER"
PRINCIPAL="User:$USER"
BIN=${KAFKA_BIN:-/opt/kafka/bin}
BOOTSTRAP=${KAFKA_BOOTSTRAP:-kafka:9092}
CONFIG=${KAFKA_ADMIN_CONFIG:-/etc/kafka/admin.properties}
TOPIC_PREFIX="public."
GROUP_PREFIX="$USER-"
CONSUMER_BYTE_RATE=1048576

acls() { "$BIN/kafka-acls.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" "$@"; }
configs() { "$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --command-config "$CONFIG" "$@"; }

if [ "$ACTION" = add ]; then
    if [ -z "${PARTNER_PASSWORD:-}" ]; then
        PARTNER_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
        echo "SCRAM-SHA-512 password of $USER (give it to the partner once): $PARTNER_PASSWORD"
    fi
    configs --alter --entity-type users --entity-name "$USER" \
        --add-config "SCRAM-SHA-512=[iterations=8192,password=$PARTNER_PASSWORD],consumer_byte_rate=$CONSUMER_BYTE_RATE"
    acls --add --allow-principal "$PRINCIPAL" --operation Read --operation Describe \
        --topic "$TOPIC_PREFIX" --resource-pattern-type prefixed
    acls --add --allow-principal "$PRINCIPAL" --operation Read --operation Describe \
        --group "$GROUP_PREFIX" --resource-pattern-type prefixed
else
    acls --remove --force --allow-principal "$PRINCIPAL" --operation Read --operation Describe \
        --topic "$TOPIC_PREFIX" --resource-pattern-type prefixed
    acls --remove --force --allow-principal "$PRINCIPAL" --operation Read --operation Describe \
        --group "$GROUP_PREFIX" --resource-pattern-type prefixed
    configs --alter --entity-type users --entity-name "$USER" --delete-config "SCRAM-SHA-512,consumer_byte_rate"
fi
