#!/usr/bin/env bash
# Runs the Dockerfile's commands without Docker, in a clean copy of the repository: the build stage
# (npm ci, npm run build), the runtime stage (npm ci --omit=dev, dist/ only), then its CMD (node dist/main.js, here in
# sandbox mode with an embedded PostgreSQL), its HEALTHCHECK until healthy, and a `docker stop` (SIGTERM): exit 0
# and nothing left running. Usage: bash scripts/deploy/check.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d -t solbound-deploy-XXXXXX)
chmod 755 "$work" # the embedded PostgreSQL runs as the postgres user when this runs as root
trap 'rm -rf "$work"' EXIT
step() { printf '\n== %s\n' "$*"; }

step "build stage: npm ci && npm run build (clean copy of the tracked files)"
mkdir "$work/build"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} sh -c 'test -e "{}" && cp --parents "{}" "$0"' "$work/build")
(cd "$work/build" && npm ci --no-audit --no-fund --prefer-offline && npm run build)

step "runtime stage: npm ci --omit=dev, then only dist/"
mkdir "$work/app"
cp "$work/build/package.json" "$work/build/package-lock.json" "$work/app/"
(cd "$work/app" && npm ci --omit=dev --no-audit --no-fund --prefer-offline)
cp -r "$work/build/dist" "$work/app/dist"
# (typescript stays: old @solana/codecs packages under spl-token declare it as a required peer.)
if [ -e "$work/app/node_modules/tsx" ] || [ -e "$work/app/node_modules/vitest" ]; then echo "dev dependencies in the runtime image"; exit 1; fi

step "CMD node dist/main.js (HTTP_HOST=0.0.0.0 as in the image), HEALTHCHECK until healthy"
port=$(node -e "const s=require('net').createServer().listen(0,()=>{console.log(s.address().port);s.close()})")
pgport=$(node -e "const s=require('net').createServer().listen(0,()=>{console.log(s.address().port);s.close()})")
cd "$work/app"
env -i PATH="$PATH" HOME="$work" NODE_ENV=production HTTP_HOST=0.0.0.0 HTTP_PORT="$port" \
  PG_DATA_DIR="$work/pg" PG_PORT="$pgport" JOBS_ENABLED=false node dist/main.js > "$work/app.log" 2>&1 &
pid=$!
healthy=""
for _ in $(seq 1 120); do
  if HTTP_PORT="$port" node -e "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"; then healthy=1; break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 1
done
if [ -z "$healthy" ]; then cat "$work/app.log"; kill -KILL "$pid" 2>/dev/null || true; echo "never healthy"; exit 1; fi
echo "healthy: /readyz 200 on port $port"
postmaster=$(head -1 "$work/pg/postmaster.pid")

step "docker stop: SIGTERM"
kill -TERM "$pid"
code=0
wait "$pid" || code=$?
for _ in $(seq 1 50); do kill -0 "$postmaster" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$postmaster" 2>/dev/null; then echo "embedded PostgreSQL ($postmaster) still running"; exit 1; fi
[ "$code" -eq 0 ] || { cat "$work/app.log"; echo "exit code $code"; exit 1; }
echo "exit 0, nothing left running"
