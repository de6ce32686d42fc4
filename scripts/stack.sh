#!/bin/bash
# make up / make down: the local stand-ins for AWS on loopback ports.
#   kinesis-mock (npm kinesis-local) — Kinesis Data Streams
#   moto_server (scripts/moto_atomic.py: DynamoDB's conditional writes
#   atomic, as AWS's)                — S3, STS, IAM, DynamoDB, CloudWatch, Glue
# `up` starts both (if not already running), waits until they answer, records
# their PIDs under .stack/, and prints the environment to export. `down` stops
# them by PID. Tests use the same script with KL_STACK_DIR set to a temp dir.
# KL_STACK_WAIT: seconds to wait for each server to answer [30] (kinesis-mock
# loading a large persisted state, LOAD_DATA_IF_EXISTS, answers only after it).
# KL_STACK_SERVERS: the servers `up` starts ["kinesis moto"]; a test that needs
# one only says so (each start costs CPU seconds), and the env file then sets
# only that one's endpoints.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${KL_STACK_DIR:-$ROOT/.stack}
KINESIS_PORT=${KL_KINESIS_PORT:-4568}
MOTO_PORT=${KL_MOTO_PORT:-5000}
SERVERS=" ${KL_STACK_SERVERS:-kinesis moto} "
serves() { [[ $SERVERS == *" $1 "* ]]; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url, name
	for _ in $(seq 1 $((${KL_STACK_WAIT:-30} * 5))); do
		curl -s -o /dev/null --max-time 1 "$1" && return 0
		sleep 0.2
	done
	echo "stack: $2 did not answer at $1 (log: $DIR/$2.log)" >&2
	return 1
}
# (a server that died is not alive while a zombie: stack.sh is not its parent)
alive() {
	[ -f "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null &&
		[ "$(awk '{ print $3 }' "/proc/$(cat "$DIR/$1.pid")/stat" 2>/dev/null)" != Z ]
}

up() {
	mkdir -p "$DIR"
	if serves kinesis && [ "$KINESIS_PORT" = 0 ]; then KINESIS_PORT=$(free_port); fi
	if serves moto && [ "$MOTO_PORT" = 0 ]; then MOTO_PORT=$(free_port); fi
	if serves kinesis && ! alive kinesis; then
		# kinesis-mock reads server.json from its working directory. Its
		# runtime's fiber tracing (cats-effect, on by default) only enriches
		# its own stack traces; off, it served the same calls with 3-12 % less
		# CPU here (idle polls of 4 shards: 1.50 against 1.65-1.78 CPU s per
		# 10 s), and the emulator's CPU is a third of `make test`'s.
		# Serving records, it allocates fast and short-lived: with V8's young
		# generation at 64 MiB a semi-space instead of its default, reading
		# 10,000 events out of 4 shards cost it 1.8-2.2 CPU s instead of
		# 4.4-5.5 (kinlake's own read the same), for ~150 MB more RSS; idle
		# polls cost the same (docs/testing.md, session 24).
		(cd "$ROOT/node_modules/kinesis-local" &&
			KINESIS_MOCK_PLAIN_PORT=$KINESIS_PORT KINESIS_MOCK_TLS_PORT=$(free_port) \
			LOG_LEVEL=WARN SHARD_LIMIT=100 CATS_EFFECT_TRACING_MODE=none \
			exec node --max-semi-space-size=64 main.js) >"$DIR/kinesis.log" 2>&1 &
		echo $! >"$DIR/kinesis.pid"
		echo "$KINESIS_PORT" >"$DIR/kinesis.port"
	fi
	if serves moto && ! alive moto; then
		# moto_server, its DynamoDB writes atomic (scripts/moto_atomic.py)
		python3 "$ROOT/scripts/moto_atomic.py" -H 127.0.0.1 -p "$MOTO_PORT" >"$DIR/moto.log" 2>&1 &
		echo $! >"$DIR/moto.pid"
		echo "$MOTO_PORT" >"$DIR/moto.port"
	fi
	{
		echo "export AWS_REGION=us-east-1"
		echo "export AWS_DEFAULT_REGION=us-east-1"
		echo "export AWS_ACCESS_KEY_ID=test"
		echo "export AWS_SECRET_ACCESS_KEY=test"
	} >"$DIR/env"
	if serves kinesis; then
		KINESIS_PORT=$(cat "$DIR/kinesis.port")
		wait_http "http://127.0.0.1:$KINESIS_PORT/" kinesis
		echo "export AWS_ENDPOINT_URL_KINESIS=http://127.0.0.1:$KINESIS_PORT" >>"$DIR/env"
	fi
	if serves moto; then
		MOTO_PORT=$(cat "$DIR/moto.port")
		wait_http "http://127.0.0.1:$MOTO_PORT/moto-api/" moto
		printf 'export AWS_ENDPOINT_URL=http://127.0.0.1:%s\nexport AWS_ENDPOINT_URL_S3=http://127.0.0.1:%s\n' \
			"$MOTO_PORT" "$MOTO_PORT" >>"$DIR/env"
	fi
	echo "# local AWS stack is up:$(serves kinesis && echo " kinesis-mock on $KINESIS_PORT")$(serves moto && echo " moto on $MOTO_PORT")" >&2
	echo "# use it with:  source $DIR/env     (stop with: make down)" >&2
	cat "$DIR/env"
}

down() {
	# both at once, then wait for each (up to 5 s, then SIGKILL); tests, whose
	# servers keep nothing worth a graceful stop, pass KL_STACK_SIGNAL=KILL
	local s up=()
	for s in kinesis moto; do
		alive "$s" && up+=("$s") && { kill "-${KL_STACK_SIGNAL:-TERM}" "$(cat "$DIR/$s.pid")" 2>/dev/null || true; }
	done
	for s in "${up[@]}"; do
		for _ in $(seq 1 50); do alive "$s" || break; sleep 0.1; done
		alive "$s" && kill -9 "$(cat "$DIR/$s.pid")" 2>/dev/null || true
		echo "stack: stopped $s" >&2
	done
	for s in kinesis moto; do rm -f "$DIR/$s.pid" "$DIR/$s.port"; done
}

case ${1:-} in
up) up ;;
down) down ;;
*) echo "usage: scripts/stack.sh up|down" >&2; exit 2 ;;
esac
