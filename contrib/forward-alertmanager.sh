#!/bin/bash
# forward-alertmanager.sh: send upwatchd's alerts to Prometheus Alertmanager.
#
# Subscribes to upwatchd's socket (`upwatchctl --json watch`) and POSTs every
# alert change to Alertmanager's /api/v2/alerts:
#   labels       alertname=<cause>, peer, upstream (when there is one),
#                severity (critical|warning), instance (this host), job=upwatch
#   annotations  summary, fix, explanation, config_ref, alert_id
#   startsAt     the alert's first_seen
#   endsAt       when resolved: the time it resolved (else unset)
# Alertmanager forgets a firing alert that is not re-sent within its
# resolve_timeout (5m by default), so the firing alerts are also re-sent every
# RESEND seconds (`upwatchctl --json alerts`). When upwatchd restarts, the
# subscription is made again.
#
# Usage: forward-alertmanager.sh [-u URL] [-s SOCKET] [-i INSTANCE] [-r RESEND] [-]
#   -u URL       Alertmanager base URL (default $ALERTMANAGER_URL or
#                http://127.0.0.1:9093)
#   -s SOCKET    upwatchd's socket (default /run/upwatch/upwatch.sock)
#   -i INSTANCE  the instance label (default $UPWATCH_INSTANCE or hostname)
#   -r RESEND    seconds between re-sends of the firing alerts (default 60)
#   -            read alert lines (as `upwatchctl --json watch` prints them)
#                from standard input instead of the daemon, and stop at its end
#
# Needs bash, curl and jq. Run it as a member of the upwatch group, e.g. as a
# systemd service with User= and SupplementaryGroups=upwatch.
set -uo pipefail

url=${ALERTMANAGER_URL:-http://127.0.0.1:9093}
socket=/run/upwatch/upwatch.sock
instance=${UPWATCH_INSTANCE:-$(hostname -f 2>/dev/null || hostname)}
resend=60
from_stdin=false

usage() {
    sed -n 's/^# \{0,1\}//; /^Usage:/,/^$/p' "$0" >&2
    exit 2
}

while [[ $# -gt 0 ]]; do
    case $1 in
        -u) url=${2:?}; shift 2 ;;
        -s) socket=${2:?}; shift 2 ;;
        -i) instance=${2:?}; shift 2 ;;
        -r) resend=${2:?}; shift 2 ;;
        -) from_stdin=true; shift ;;
        -h | --help) usage ;;
        *) echo "forward-alertmanager: unknown argument '$1'" >&2; usage ;;
    esac
done
for tool in curl jq; do
    command -v "$tool" >/dev/null || { echo "forward-alertmanager: $tool is required" >&2; exit 2; }
done
endpoint=${url%/}/api/v2/alerts

# One line of the socket (an alert change, {"alert": {...}} or the alert
# itself) -> the Alertmanager alert list to POST, or nothing for other lines.
# Times may be RFC 3339 strings or epoch milliseconds.
# shellcheck disable=SC2016
to_alertmanager='
def ts: if type == "number" then (. / 1000 | floor | todate) else . end;
def nonempty: with_entries(select(.value != null and .value != ""));
(if type == "object" and (.alert | type) == "object" then .alert else . end)
| select(type == "object" and (.cause | type) == "string")
| [{
    labels: ({
        alertname: .cause,
        peer: .peer,
        upstream: .upstream,
        severity: .severity,
        instance: $instance,
        job: "upwatch"
    } | nonempty),
    annotations: ({
        summary: .summary,
        fix: .fix,
        explanation: .explanation,
        config_ref: .config_ref,
        alert_id: (if .id == null then null else (.id | tostring) end)
    } | nonempty),
    startsAt: (.first_seen | ts)
  }
  + (if .state == "resolved"
     then {endsAt: ((.resolved_at // .last_seen // (now * 1000)) | ts)}
     else {} end)
  | nonempty]'

post() { # JSON body on stdin; three tries, then give up on this one
    local body try
    body=$(cat)
    for try in 1 2 3; do
        if curl -sS --fail --max-time 10 -H 'Content-Type: application/json' \
            --data-binary "$body" -o /dev/null "$endpoint"; then
            return 0
        fi
        sleep "$try"
    done
    echo "forward-alertmanager: could not POST to $endpoint, alert dropped" >&2
    return 1
}

forward() { # alert lines on stdin -> one POST each
    local line body
    while IFS= read -r line; do
        body=$(jq -c --arg instance "$instance" "$to_alertmanager" <<<"$line" 2>/dev/null) || continue
        [[ -n $body ]] || continue
        post <<<"$body"
    done
}

if $from_stdin; then
    forward
    exit 0
fi

# Re-send what is firing, so Alertmanager keeps it until upwatch resolves it.
resend_firing() {
    while sleep "$resend"; do
        upwatchctl --socket "$socket" --json alerts 2>/dev/null |
            jq -c '.alerts[]? | select(.state == "firing")' | forward
    done
}
resend_firing &
resender=$!
trap 'kill "$resender" 2>/dev/null' EXIT

while true; do
    upwatchctl --socket "$socket" --json alerts 2>/dev/null |
        jq -c '.alerts[]? | select(.state == "firing")' | forward
    upwatchctl --socket "$socket" --json watch | forward
    echo "forward-alertmanager: lost upwatchd at $socket, reconnecting in 5s" >&2
    sleep 5
done
