#!/usr/bin/env bash
# Builds the three images with podman and runs them for real against the PostgreSQL server at
# 127.0.0.1:5432: the migrate image migrates a fresh database, the server image answers /readyz,
# and the scheduler image fires a job created through the server's API at a loopback receiver.
# Also checks that no image runs as root, that /metrics on both processes' METRICS_PORT shows real
# values while the server's public port answers 404 there and readiness without detail, and
# prints the image sizes. Called by .ci/run (podman) and GitHub Actions (CONTAINER_ENGINE=docker);
# usable by hand: bash deploy/container-smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ENGINE=${CONTAINER_ENGINE:-podman}
podman() { command "$ENGINE" "$@"; }

BASE_TOOL=${NODE_BASE_IMAGE_TOOL:-../shared/tools/node-base-image}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
IMAGES=(dist-job-scheduler-migrate dist-job-scheduler-server dist-job-scheduler-scheduler)
db="djs_smoke_$$"
cred="postgres${PGPASSWORD:+:$PGPASSWORD}"
admin="postgres://${cred}@${PGHOST}:${PGPORT}/postgres"
url="postgres://${cred}@${PGHOST}:${PGPORT}/${db}"
work=$(mktemp -d)
server_port=$((20000 + RANDOM % 10000))
metrics_port=$((server_port + 1))
receiver_port=$((server_port + 2))
server_metrics_port=$((server_port + 3))

log() { printf '[container-smoke] %s\n' "$*"; }
sql() { node -e "const pg=require('pg');(async()=>{const c=new pg.Client('$admin');await c.connect();await c.query(process.argv[1]);await c.end()})().catch(e=>{console.error(e.message);process.exit(1)})" "$1"; }
cleanup() {
  podman rm -f djs-smoke-server djs-smoke-scheduler >/dev/null 2>&1 || true
  [ -n "${receiver_pid:-}" ] && kill "$receiver_pid" 2>/dev/null || true
  sql "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
  rm -rf "$work"
}
trap cleanup EXIT

# Podman here cannot pull: build the base image locally from Debian packages and Node's binary.
if [ "$ENGINE" = podman ] && ! podman image exists docker.io/library/node:24-slim 2>/dev/null; then
  [ -x "$BASE_TOOL" ] || [ -f "$BASE_TOOL" ] || { echo "no podman base image and no $BASE_TOOL to build one" >&2; exit 1; }
  log "building the local node:24-slim base image"
  bash "$BASE_TOOL" node:24-slim 24
fi

for img in "${IMAGES[@]}"; do
  kind=${img#dist-job-scheduler-}
  log "building $img from Dockerfile.$kind"
  podman build --network=host -q -f "Dockerfile.$kind" -t "$img" . >/dev/null
  uid=$(podman run --rm --network=host --entrypoint id "$img" -u)
  [ "$uid" != 0 ] || { echo "$img runs as root" >&2; exit 1; }
  log "$img runs as uid $uid"
done

sql "CREATE DATABASE $db"
log "migrate image: migrating a fresh database"
podman run --rm --network=host -e DATABASE_URL="$url" dist-job-scheduler-migrate
# Running it again is a no-op, as a second pod's Job would be.
podman run --rm --network=host -e DATABASE_URL="$url" dist-job-scheduler-migrate | grep -q 'up to date'

secret() { node -e "console.log(require('crypto').randomBytes(48).toString('base64'))"; }
common=(-e DATABASE_URL="$url" -e JWT_SECRET="$(secret)" -e SECRETS_KEY="$(secret)" -e TARGET_ALLOWLIST=127.0.0.0/8 -e LOG_LEVEL=info -e MAIL_TRANSPORT=log)
podman run -d --name djs-smoke-server --network=host "${common[@]}" -e PORT="$server_port" -e METRICS_PORT="$server_metrics_port" -e PUBLIC_URL="http://127.0.0.1:$server_port" dist-job-scheduler-server >/dev/null
podman run -d --name djs-smoke-scheduler --network=host "${common[@]}" -e METRICS_PORT="$metrics_port" dist-job-scheduler-scheduler >/dev/null

wait_for() { # url, what
  for _ in $(seq 1 150); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
  echo "timed out waiting for $2 ($1)" >&2; podman logs djs-smoke-server 2>&1 | tail -20 >&2; podman logs djs-smoke-scheduler 2>&1 | tail -20 >&2; exit 1
}
wait_for "http://127.0.0.1:$server_port/readyz" "server readiness"
wait_for "http://127.0.0.1:$metrics_port/readyz" "scheduler readiness"
log "server and scheduler are ready"
# The public port answers probes with a status only; the detail is on METRICS_PORT.
public_ready=$(curl -fsS "http://127.0.0.1:$server_port/readyz")
[ "$public_ready" = '{"status":"ready"}' ] || { echo "public /readyz shows more than a status: $public_ready" >&2; exit 1; }
curl -fsS "http://127.0.0.1:$server_metrics_port/readyz" | grep -q '"database":"ok"' || { echo "server readiness detail missing on METRICS_PORT" >&2; exit 1; }
public_metrics=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$server_port/metrics")
[ "$public_metrics" = 404 ] || { echo "/metrics on the public port answered $public_metrics, not 404" >&2; exit 1; }
log "public port: status-only readiness, no /metrics"

# A loopback receiver that records the webhook-id of each delivery.
node -e "
  require('http').createServer((req, res) => {
    require('fs').appendFileSync('$work/received', req.headers['webhook-id'] + '\n');
    res.writeHead(204).end();
  }).listen($receiver_port, '127.0.0.1');
" &
receiver_pid=$!
api="http://127.0.0.1:$server_port"

# The console ships in the server image: its page and the script it names are served.
page=$(curl -fsS "$api/jobs")
script=$(printf '%s' "$page" | grep -o '/assets/app-[A-Z0-9]*\.js' | head -1)
[ -n "$script" ] || { echo "the console page names no script: $page" >&2; exit 1; }
curl -fsS "$api$script" >/dev/null
log "console served ($script)"
curl -fsS -X POST "$api/v1/auth/magic-link" -H 'content-type: application/json' -d '{"email":"smoke@example.com"}' >/dev/null
token=""
for _ in $(seq 1 100); do
  token=$(podman logs djs-smoke-server 2>&1 | grep -o '"magic_link":"[^"]*' | sed 's/.*token=//' | tail -1)
  [ -n "$token" ] && break
  sleep 0.2
done
[ -n "$token" ] || { echo "no sign-in link in the server log" >&2; exit 1; }
access=$(curl -fsS -X POST "$api/v1/auth/session" -H 'content-type: application/json' -d "{\"token\":\"$token\"}" | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')
job=$(curl -fsS -X POST "$api/v1/jobs" -H "authorization: Bearer $access" -H 'content-type: application/json' \
  -d "{\"request\":{\"method\":\"POST\",\"url\":\"http://127.0.0.1:$receiver_port/hook\",\"body\":\"{}\"},\"delay_seconds\":1}" |
  node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
for _ in $(seq 1 100); do grep -q "$job" "$work/received" 2>/dev/null && break; sleep 0.1; done
grep -q "$job" "$work/received" || { echo "job $job never reached the receiver" >&2; podman logs djs-smoke-scheduler 2>&1 | tail -20 >&2; exit 1; }
for _ in $(seq 1 50); do
  status=$(curl -fsS "$api/v1/jobs/$job" -H "authorization: Bearer $access" | node -pe 'JSON.parse(require("fs").readFileSync(0)).status')
  [ "$status" = succeeded ] && break
  sleep 0.1
done
[ "$status" = succeeded ] || { echo "job $job is $status, not succeeded" >&2; exit 1; }
log "job $job created through the server image was fired by the scheduler image"

smetrics=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics")
echo "$smetrics" | grep -q 'djs_job_executions_total{outcome="succeeded"} [1-9]' || { echo "scheduler metrics lack the execution" >&2; exit 1; }
echo "$smetrics" | grep -q 'djs_job_fire_lateness_seconds_count [1-9]' || { echo "scheduler metrics lack fire lateness" >&2; exit 1; }
echo "$smetrics" | grep -q '^process_cpu_user_seconds_total' || { echo "scheduler metrics lack process metrics" >&2; exit 1; }
ametrics=$(curl -fsS "http://127.0.0.1:$server_metrics_port/metrics")
echo "$ametrics" | grep -q 'djs_jobs_created_total [1-9]' || { echo "server metrics lack jobs created" >&2; exit 1; }
echo "$ametrics" | grep -q 'djs_magic_link_emails_sent_total [1-9]' || { echo "server metrics lack mail sent" >&2; exit 1; }
echo "$ametrics" | grep -q 'djs_http_request_duration_seconds_count{route="/v1/jobs",method="POST",status_class="2xx"} [1-9]' || { echo "server metrics lack the API histogram" >&2; exit 1; }
log "metrics on both processes show real values"

# SIGTERM reaches Node (exec-form CMD): both stop cleanly well within Kubernetes' 30 s.
for c in djs-smoke-server djs-smoke-scheduler; do
  podman stop -t 25 "$c" >/dev/null
  code=$(podman inspect "$c" --format '{{.State.ExitCode}}')
  [ "$code" = 0 ] || { echo "$c exited $code on SIGTERM" >&2; podman logs "$c" 2>&1 | tail -10 >&2; exit 1; }
done
log "server and scheduler exit 0 on SIGTERM"

for img in "${IMAGES[@]}"; do
  size=$(podman image inspect "$img" --format '{{.Size}}')
  log "image $img: $((size / 1000000)) MB"
done
log "container smoke test passed"
