# AWS credential chain end to end: order (env > profile > web identity >
# container > IMDS), refresh ahead of expiry, container and IMDSv2 against a
# fake metadata server (tests/js/fake_metadata.mjs: no real local server
# exists for those), STS AssumeRole (profile role_arn + source_profile) and
# AssumeRoleWithWebIdentity against moto. Driver: test_credentials --resolve.
# duration: 5 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
if [ "${KL_ASAN:-0}" = 1 ]; then DRV=$ROOT/build-asan/tests/test_credentials
else DRV=$ROOT/build/tests/test_credentials; fi
[ -x "$DRV" ] || fail "missing $DRV (run make)"

node "$ROOT/tests/js/fake_metadata.mjs" >"$T/md.port" 2>"$T/md.log" &
pids+=($!)
for _ in $(seq 50); do [ -s "$T/md.port" ] && break; sleep 0.1; done
MD=$(head -1 "$T/md.port"); [ -n "$MD" ] || fail "fake metadata server did not start"

moto_up

DUMMY=(AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1)
env "${DUMMY[@]}" aws --endpoint-url "http://127.0.0.1:$MOTO" iam create-role --role-name kl-role \
	--assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}' \
	>"$T/role.json" || fail "iam create-role"
ROLE_ARN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Role"]["Arn"])' "$T/role.json")

printf 'container-secret-token\n' >"$T/ctoken"
printf 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0ZXN0In0.\n' >"$T/webtoken"
mkdir -p "$T/home/.aws"
cat >"$T/home/.aws/credentials" <<INI
[base]
aws_access_key_id = AKIABASEPROFILE0001
aws_secret_access_key = basesecret
[static]
aws_access_key_id = AKIASTATICPROFILE01
aws_secret_access_key = staticsecret
INI
cat >"$T/home/.aws/config" <<INI
[profile assumer]
role_arn = $ROLE_ARN
source_profile = base
role_session_name = kl-e2e
INI

# Run the driver with a clean environment plus the given variables.
resolve() { env -i PATH="$PATH" HOME="$T/home" AWS_REGION=us-east-1 "$@" "$DRV" --resolve ${REFRESH:-}; }
expect() { # want-regex, env...
	local want=$1; shift
	local out; out=$(resolve "$@" 2>&1) || fail "resolve failed ($*): $out"
	grep -Eq "$want" <<<"$out" || fail "($*) gave '$out', want /$want/"
	printf '%s\n' "$out"
}
CONTAINER=(AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$MD/creds" AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$T/ctoken")
IMDS=(AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:$MD")
NOIMDS=(AWS_EC2_METADATA_DISABLED=true)

# Order.
expect '^resolved AKIAENVKEY00000001 env token=0$' AWS_ACCESS_KEY_ID=AKIAENVKEY00000001 \
	AWS_SECRET_ACCESS_KEY=x AWS_PROFILE=static "${CONTAINER[@]}" "${IMDS[@]}"
expect '^resolved AKIASTATICPROFILE01 profile token=0$' AWS_PROFILE=static "${CONTAINER[@]}" "${IMDS[@]}"
expect '^resolved ASIACONTAINER[0-9]{4} container token=[1-9]' "${CONTAINER[@]}" "${IMDS[@]}"
expect '^resolved ASIAIMDS[0-9]{4} imds token=[1-9]' "${IMDS[@]}"
# Nothing configured, IMDS disabled: a clear failure.
if out=$(resolve "${NOIMDS[@]}" 2>&1); then fail "resolved with nothing configured: $out"; fi
printf '%s\n' "$out" | grepq 'none found' || fail "unexpected: $out"
# Wrong container token: the configured provider fails, and the token is not echoed.
printf 'wrong-token\n' >"$T/badtoken"
if out=$(resolve AWS_CONTAINER_CREDENTIALS_FULL_URI="http://127.0.0.1:$MD/creds" \
	AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="$T/badtoken" "${NOIMDS[@]}" 2>&1); then
	fail "bad container token accepted: $out"; fi
printf '%s\n' "$out" | grepq 'HTTP 401' || fail "unexpected: $out"
printf '%s\n' "$out" | grepq 'wrong-token' && fail "token leaked: $out"
# A non-loopback http:// full URI is refused.
if resolve AWS_CONTAINER_CREDENTIALS_FULL_URI=http://example.com/creds "${NOIMDS[@]}" >/dev/null 2>&1; then
	fail "non-loopback http container URI accepted"; fi

# Refresh: a second resolve inside the 5-minute window fetches new keys.
REFRESH=--refresh expect '^refreshed ASIACONTAINER[0-9]{4} container$' "${CONTAINER[@]}" "${NOIMDS[@]}" >"$T/r1"
k1=$(awk '/^resolved/{print $2}' "$T/r1"); k2=$(awk '/^refreshed/{print $2}' "$T/r1")
[ "$k1" != "$k2" ] || fail "container credentials not refreshed ($k1)"
REFRESH=--refresh expect '^refreshed ASIAIMDS[0-9]{4} imds$' "${IMDS[@]}" >"$T/r2"
k1=$(awk '/^resolved/{print $2}' "$T/r2"); k2=$(awk '/^refreshed/{print $2}' "$T/r2")
[ "$k1" != "$k2" ] || fail "IMDS credentials not refreshed ($k1)"
cat "$T/r1" "$T/r2"

# STS AssumeRole (profile role_arn + source_profile) against moto, both
# endpoint variables.
expect '^resolved ASIA[A-Z0-9]{12,} profile token=[1-9]' AWS_PROFILE=assumer \
	AWS_ENDPOINT_URL_STS="http://127.0.0.1:$MOTO" "${NOIMDS[@]}"
expect '^resolved ASIA[A-Z0-9]{12,} profile token=[1-9]' AWS_PROFILE=assumer \
	AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO" "${NOIMDS[@]}"
expect '^expires_in [0-9]+' AWS_PROFILE=assumer AWS_ENDPOINT_URL_STS="http://127.0.0.1:$MOTO" "${NOIMDS[@]}"
# Web identity from the environment (AssumeRoleWithWebIdentity, unsigned),
# which also wins over the container provider.
expect '^resolved ASIA[A-Z0-9]{12,} web-identity token=[1-9]' AWS_WEB_IDENTITY_TOKEN_FILE="$T/webtoken" \
	AWS_ROLE_ARN="$ROLE_ARN" AWS_ENDPOINT_URL_STS="http://127.0.0.1:$MOTO" "${CONTAINER[@]}" "${NOIMDS[@]}"
echo "aws_creds: all checks passed"
