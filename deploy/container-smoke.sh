#!/usr/bin/env bash
# Builds the three images and runs them for real as compose.yaml (the one-host deployment) starts
# them: PostgreSQL, the migrate step, the API server and a scheduler. Checks that migrate completes
# (and that running it again is a no-op), that the server answers /healthz and /readyz (status only
# on the public port, each check's detail on METRICS_PORT, no /metrics on the public port), that the
# compose healthchecks pass, that the console is served, that a job created through the server's
# API is fired by the scheduler at a receiver on the compose network, that /metrics on both
# processes shows real values, and that both exit 0 on SIGTERM. Also checks that no image runs as
# root, and prints the image sizes. Called by .ci/run (podman + podman-compose) and GitHub Actions
# (CONTAINER_ENGINE=docker: docker compose); usable by hand: bash deploy/container-smoke.sh
# PostgreSQL: POSTGRES_IMAGE if set, else docker.io/library/postgres:17 if it can be pulled, else
# (a host without registry access, like CI here) a stand-in built from
# deploy/compose/postgres-local.Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."

ENGINE=${CONTAINER_ENGINE:-podman}
podman() { command "$ENGINE" "$@"; }
if [ -n "${COMPOSE:-}" ]; then
  read -r -a compose_cmd <<<"$COMPOSE"
elif [ "$ENGINE" = docker ]; then
  compose_cmd=(docker compose)
else
  compose_cmd=(podman-compose)
fi

BASE_TOOL=${NODE_BASE_IMAGE_TOOL:-../shared/tools/node-base-image}
IMAGES=(dist-job-scheduler-migrate dist-job-scheduler-server dist-job-scheduler-scheduler)
project="djs-smoke-$$"
work=$(mktemp -d)
server_port=$((20000 + RANDOM % 10000))
server_metrics_port=$((server_port + 1))
metrics_port=$((server_port + 2))

log() { printf '[container-smoke] %s\n' "$*"; }
# The stack's own copy of compose.yaml with its own .env, so a developer's .env is never read or
# touched (podman-compose 1.0 lets .env override the environment).
compose() { (cd "$work" && "${compose_cmd[@]}" -p "$project" "$@"); }
# The container of a compose service, by the labels both docker compose and podman-compose set.
cid() { podman ps -aq --filter "label=com.docker.compose.project=$project" --filter "label=com.docker.compose.service=$1" | head -1; }
dump_logs() {
  for s in postgres migrate server scheduler; do
    c=$(cid "$s")
    [ -n "$c" ] && { echo "--- $s" >&2; podman logs "$c" 2>&1 | tail -15 >&2; }
  done
  return 0
}
fail() { echo "$*" >&2; dump_logs; exit 1; }
cleanup() {
  podman rm -f "$project-receiver" >/dev/null 2>&1 || true
  compose down -v >/dev/null 2>&1 || true
  # podman-compose 1.0 leaves the network and the volume behind.
  podman network rm -f "${project}_default" >/dev/null 2>&1 || true
  podman volume rm -f "${project}_pgdata" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

command -v "${compose_cmd[0]}" >/dev/null || { echo "${compose_cmd[*]} is not installed (Debian: apt-get install podman-compose)" >&2; exit 1; }

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

postgres_image=${POSTGRES_IMAGE:-}
if [ -z "$postgres_image" ]; then
  if podman image inspect docker.io/library/postgres:17 >/dev/null 2>&1 || timeout 300 "$ENGINE" pull -q docker.io/library/postgres:17 >/dev/null 2>&1; then
    postgres_image=docker.io/library/postgres:17
  else
    postgres_image=localhost/djs-postgres-local:15
    log "no registry: building $postgres_image from deploy/compose/postgres-local.Dockerfile"
    podman build --network=host -q -f deploy/compose/postgres-local.Dockerfile -t "$postgres_image" deploy/compose >/dev/null
  fi
fi
log "postgres image: $postgres_image"

secret() { node -e "console.log(require('crypto').randomBytes(48).toString('base64'))"; }
cp compose.yaml "$work/compose.yaml"
# What compose.env.example asks for, with throwaway values; the receiver lives on the compose
# network (a private range the SSRF guard refuses unless allowlisted).
cat >"$work/.env" <<EOF
POSTGRES_PASSWORD=$(node -e "console.log(require('crypto').randomBytes(24).toString('hex'))")
JWT_SECRET=$(secret)
SECRETS_KEY=$(secret)
PUBLIC_URL=http://127.0.0.1:$server_port
MAIL_TRANSPORT=log
LOG_LEVEL=info
TARGET_ALLOWLIST=10.0.0.0/8,172.16.0.0/12,192.168.0.0/16
HTTP_PORT=$server_port
SERVER_METRICS_PORT=$server_metrics_port
SCHEDULER_METRICS_PORT=$metrics_port
POSTGRES_IMAGE=$postgres_image
EOF
log "compose up (project $project)"
compose up -d >"$work/compose-up.log" 2>&1 || { tail -30 "$work/compose-up.log" >&2; fail "compose up failed"; }

# Migrate: exits 0 once Postgres accepts it (podman-compose 1.0 starts it at once and the restart
# policy retries it; docker compose waits for Postgres's healthcheck).
migrate=""
state=""
for _ in $(seq 1 300); do
  migrate=$(cid migrate)
  state=$([ -n "$migrate" ] && podman inspect "$migrate" --format '{{.State.Status}} {{.State.ExitCode}}' || true)
  [ "$state" = "exited 0" ] && break
  sleep 0.4
done
[ "$state" = "exited 0" ] || fail "migrate did not complete (state: ${state:-no container})"
applied=$(podman logs "$migrate" 2>&1 | grep -o '"msg":"applied [0-9]* migration(s)"' | tail -1)
log "migrate completed: ${applied:-no message}"
# Running it again is a no-op, as a second deployment's would be.
podman start -a "$migrate" 2>&1 | grep -q 'up to date' || fail "a second migrate run did not say the database is up to date"

wait_for() { # url, what
  for _ in $(seq 1 300); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "timed out waiting for $2 ($1)"
}
wait_for "http://127.0.0.1:$server_port/healthz" "server liveness"
wait_for "http://127.0.0.1:$server_port/readyz" "server readiness"
wait_for "http://127.0.0.1:$metrics_port/healthz" "scheduler liveness"
wait_for "http://127.0.0.1:$metrics_port/readyz" "scheduler readiness"
log "server and scheduler are live and ready"
server=$(cid server)
scheduler=$(cid scheduler)

# The healthchecks compose.yaml declares pass (podman runs them only with systemd: run them here;
# docker runs them itself).
for s in postgres server scheduler; do
  c=$(cid "$s")
  if [ "$ENGINE" = podman ]; then
    podman healthcheck run "$c" >/dev/null 2>&1 || fail "the $s healthcheck fails"
  else
    health=""
    for _ in $(seq 1 60); do
      health=$(podman inspect "$c" --format '{{.State.Health.Status}}')
      [ "$health" = healthy ] && break
      sleep 1
    done
    [ "$health" = healthy ] || fail "$s is $health, not healthy"
  fi
done
log "compose healthchecks pass (postgres, server, scheduler)"

# The public port answers probes with a status only; the detail is on METRICS_PORT.
public_ready=$(curl -fsS "http://127.0.0.1:$server_port/readyz")
[ "$public_ready" = '{"status":"ready"}' ] || fail "public /readyz shows more than a status: $public_ready"
curl -fsS "http://127.0.0.1:$server_metrics_port/readyz" | grep -q '"database":"ok"' || fail "server readiness detail missing on METRICS_PORT"
public_metrics=$(curl -sS -o /dev/null -w '%{http_code}' "http://127.0.0.1:$server_port/metrics")
[ "$public_metrics" = 404 ] || fail "/metrics on the public port answered $public_metrics, not 404"
log "public port: status-only readiness, no /metrics"

# A receiver on the compose network (the migrate image has node) that logs each delivery's webhook-id.
podman run -d --name "$project-receiver" --network "${project}_default" --entrypoint node dist-job-scheduler-migrate -e "
  require('http').createServer((req, res) => {
    console.log('delivery ' + req.headers['webhook-id']);
    res.writeHead(204).end();
  }).listen(8080);
" >/dev/null
receiver_ip=$(podman inspect "$project-receiver" --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}')
[ -n "$receiver_ip" ] || fail "the receiver has no address on ${project}_default"
api="http://127.0.0.1:$server_port"

# The console ships in the server image: its page and the script it names are served.
page=$(curl -fsS "$api/jobs")
script=$(printf '%s' "$page" | grep -o '/assets/app-[A-Z0-9]*\.js' | head -1)
[ -n "$script" ] || fail "the console page names no script: $page"
curl -fsS "$api$script" >/dev/null
log "console served ($script)"
curl -fsS -X POST "$api/v1/auth/magic-link" -H 'content-type: application/json' -d '{"email":"smoke@example.com"}' >/dev/null
token=""
for _ in $(seq 1 100); do
  token=$(podman logs "$server" 2>&1 | grep -o '"magic_link":"[^"]*' | sed 's/.*token=//' | tail -1)
  [ -n "$token" ] && break
  sleep 0.2
done
[ -n "$token" ] || fail "no sign-in link in the server log"
access=$(curl -fsS -X POST "$api/v1/auth/session" -H 'content-type: application/json' -d "{\"token\":\"$token\"}" | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')
job=$(curl -fsS -X POST "$api/v1/jobs" -H "authorization: Bearer $access" -H 'content-type: application/json' \
  -d "{\"request\":{\"method\":\"POST\",\"url\":\"http://$receiver_ip:8080/hook\",\"body\":\"{}\"},\"delay_seconds\":1}" |
  node -pe 'JSON.parse(require("fs").readFileSync(0)).id')
received() { podman logs "$project-receiver" 2>&1 | grep -q "delivery $job"; }
for _ in $(seq 1 100); do received && break; sleep 0.1; done
received || fail "job $job never reached the receiver"
status=""
for _ in $(seq 1 50); do
  status=$(curl -fsS "$api/v1/jobs/$job" -H "authorization: Bearer $access" | node -pe 'JSON.parse(require("fs").readFileSync(0)).status')
  [ "$status" = succeeded ] && break
  sleep 0.1
done
[ "$status" = succeeded ] || fail "job $job is $status, not succeeded"
log "job $job created through the server was fired by the scheduler at $receiver_ip"

smetrics=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics")
echo "$smetrics" | grep -q 'djs_job_executions_total{outcome="succeeded"} [1-9]' || fail "scheduler metrics lack the execution"
echo "$smetrics" | grep -q 'djs_job_fire_lateness_seconds_count [1-9]' || fail "scheduler metrics lack fire lateness"
echo "$smetrics" | grep -q '^process_cpu_user_seconds_total' || fail "scheduler metrics lack process metrics"
ametrics=$(curl -fsS "http://127.0.0.1:$server_metrics_port/metrics")
echo "$ametrics" | grep -q 'djs_jobs_created_total [1-9]' || fail "server metrics lack jobs created"
echo "$ametrics" | grep -q 'djs_magic_link_emails_sent_total [1-9]' || fail "server metrics lack mail sent"
echo "$ametrics" | grep -q 'djs_http_request_duration_seconds_count{route="/v1/jobs",method="POST",status_class="2xx"} [1-9]' || fail "server metrics lack the API histogram"
log "metrics on both processes show real values"

# SIGTERM reaches Node (exec-form CMD): both stop cleanly well within compose's 30 s grace.
for c in "$server" "$scheduler"; do
  podman stop -t 25 "$c" >/dev/null
  code=$(podman inspect "$c" --format '{{.State.ExitCode}}')
  [ "$code" = 0 ] || fail "$c exited $code on SIGTERM"
done
log "server and scheduler exit 0 on SIGTERM"

for img in "${IMAGES[@]}"; do
  size=$(podman image inspect "$img" --format '{{.Size}}')
  log "image $img: $((size / 1000000)) MB"
done
log "container smoke test passed"
