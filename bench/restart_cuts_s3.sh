#!/bin/bash
# restart_cuts_s3.sh [BIN]: bench/restart_cuts.sh against an S3 lake on moto (run from a scratch
# directory). A reference run of 12k events at 10 MiB into s3://bkt/ref; then for every STEP-th
# line K (9) of its state object (one compacted log, rewritten by every sync: P lines, then R
# and M), a complete run into s3://bkt/cK, its state object replaced by the reference's cut to K
# lines (P lines without their R are not loaded), the same command again, and the data objects'
# keys and ETags compared with the reference's. Session 20: 0 of 12 cut points differ.
set -u
KL=${1:-$(cd "$(dirname "$0")/.." && pwd)/build/kinlake}
P=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p $P > moto.log 2>&1 & MP=$!
trap "kill $MP" EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:$P/moto-api/ >/dev/null 2>&1 && break; sleep 0.2; done
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_ENDPOINT_URL_S3=http://127.0.0.1:$P
S3=(aws --endpoint-url http://127.0.0.1:$P s3)
"${S3[@]}" mb s3://bkt > /dev/null
$KL gen --events 12000 --bad-fraction 0.01 --dup-fraction 0.01 --seed 5 --span 3600 > in.jsonl
A=(--input in.jsonl --memory-limit 10MiB --dedup-window 50000 --quiet --threads 2 --no-progress)
lst() { aws --endpoint-url http://127.0.0.1:$P s3api list-objects-v2 --bucket bkt --prefix "$1/" --query 'Contents[].[Key,ETag]' --output text | sed "s|^$1/||" | grep -v '^_kinlake' | sort; }
$KL ingest "${A[@]}" --lake s3://bkt/ref || exit 1
lst ref > ref.lst; echo "ref objects: $(wc -l < ref.lst)"
key=$(aws --endpoint-url http://127.0.0.1:$P s3api list-objects-v2 --bucket bkt --prefix ref/_kinlake/state/ --query 'Contents[].Key' --output text | sed 's|^ref/||')
"${S3[@]}" cp s3://bkt/ref/$key ref.log > /dev/null; n=$(wc -l < ref.log); echo "log lines $n"
bad=0; tried=0
for K in $(seq 3 ${STEP:-9} $n); do
  tried=$((tried+1))
  $KL ingest "${A[@]}" --lake s3://bkt/c$K || exit 1
  head -n $K ref.log > cut.log
  "${S3[@]}" cp cut.log s3://bkt/c$K/$key > /dev/null
  $KL ingest "${A[@]}" --lake s3://bkt/c$K || exit 1
  lst c$K > c.lst
  cmp -s c.lst ref.lst || { bad=$((bad+1)); echo "cut after $K differs"; }
done
echo "S3 lake: $bad of $tried cut points differ"
