# no-asan: packages the release build (make lambda-zip), whatever $KINLAKE is.
# The Lambda zip: bootstrap + kinlake + lib/; every library the binary loads
# (at exec, and libcurl's tree on first use) resolves inside lib/ except
# glibc's own, also with system directories first on LD_LIBRARY_PATH (as
# Lambda's is); no glibc symbol newer than AL2023's 2.34;
# then the unzipped bootstrap runs the whole Runtime API scenario.
# duration: 32 (seconds, for the test runner's ordering: a quiet 2-core machine)
. "$(dirname "$0")/_lib.sh"
cd "$ROOT"
make -s lambda-zip
[ -f dist/kinlake-lambda.zip ] || fail "no dist/kinlake-lambda.zip"
mkdir "$T/task"
unzip -q dist/kinlake-lambda.zip -d "$T/task"
[ -x "$T/task/bootstrap" ] || fail "bootstrap missing or not executable"
[ -x "$T/task/kinlake" ] || fail "kinlake missing or not executable"
readelf -d "$T/task/kinlake" | grepq 'Library rpath: \[\$ORIGIN/lib\]' || fail "no RPATH \$ORIGIN/lib"
glibc='^(linux-vdso\.so|ld-linux-x86-64\.so|libc\.so|libm\.so|libpthread\.so|libdl\.so|librt\.so|libresolv\.so)'
sysdirs=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64
# ldd of the executable shows the whole tree as the loader resolves it (the
# executable's RPATH also applies to its libraries' own dependencies)
LD_LIBRARY_PATH=$sysdirs ldd "$T/task/kinlake" >"$T/ldd" 2>&1 || fail "ldd: $(cat "$T/ldd")"
if grep -q 'not found' "$T/ldd"; then fail "$(grep 'not found' "$T/ldd")"; fi
while read -r name path; do
	if [[ $name =~ $glibc ]]; then
		[[ $path != "$T/task/"* ]] || fail "glibc's $name is bundled"
	elif [[ $path != "$T/task/lib/"* ]]; then
		fail "$name resolves outside the zip: $path"
	fi
done < <(awk '$2 == "=>" { print $1, $3 }' "$T/ldd")
# libcurl is not loaded at exec but on the first HTTP request (dlopen,
# src/aws/curl_lazy.c): it and its dependencies must come from lib/ then too.
# A stream ingest against a closed port makes that request; LD_DEBUG=libs
# names the file of every library initialised.
[ -f "$T/task/lib/libcurl.so.4" ] || fail "libcurl.so.4 is not bundled"
if grep -q 'libcurl' "$T/ldd"; then fail "libcurl is loaded at exec: $(grep libcurl "$T/ldd")"; fi
LD_LIBRARY_PATH=$sysdirs LD_DEBUG=libs AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=y AWS_REGION=us-east-1 \
	AWS_ENDPOINT_URL=http://127.0.0.1:9 timeout 3 "$T/task/kinlake" ingest --stream s --lake s3://bkt/p \
	--quiet 2>"$T/dl" || true
grep -q "calling init: $T/task/lib/libcurl.so.4" "$T/dl" || fail "libcurl not loaded from lib/: $(grep -m3 curl "$T/dl")"
while read -r path; do
	name=${path##*/}
	if [[ $name =~ $glibc ]]; then
		[[ $path != "$T/task/"* ]] || fail "glibc's $name is bundled"
	elif [[ $path != "$T/task/lib/"* ]]; then
		fail "$name (loaded with libcurl) resolves outside the zip: $path"
	fi
done < <(grep -o 'calling init: /[^ ]*' "$T/dl" | awk '{ print $3 }' | sort -u)
echo "libcurl and $(grep -o "calling init: $T/task/lib/[^ ]*" "$T/dl" | sort -u | wc -l) libraries in all load from lib/ on first use"
# and no bundled library carries a RUNPATH (which would switch the RPATH off for its dependencies)
for f in "$T/task"/lib/*; do
	if readelf -d "$f" | grepq RUNPATH; then fail "$f has a RUNPATH"; fi
done
n=$(LD_LIBRARY_PATH=$sysdirs ldd "$T/task/kinlake" | grep -c "$T/task/lib/")
echo "kinlake loads $n libraries from lib/, glibc from the system"
if ls "$T/task/lib" | grepq -E "$glibc"; then fail "glibc bundled: $(ls "$T/task/lib")"; fi
new=$(for f in "$T/task/kinlake" "$T/task"/lib/*; do objdump -T "$f" | awk '/\*UND\*/' | grep -o 'GLIBC_[0-9.]*'; done |
	sort -Vu | tail -1)
[ "$(printf '%s\n%s\n' "${new#GLIBC_}" 2.34 | sort -V | tail -1)" = 2.34 ] || fail "needs $new (AL2023 has glibc 2.34)"
echo "newest glibc symbol version needed: $new"
# the unzipped bootstrap through the Runtime API scenario, Lambda's environment
LAMBDA_TASK_ROOT=$T/task LD_LIBRARY_PATH=$sysdirs \
	node tests/js/runtime_api.mjs main "$KL" "${KL_CORPORA:-$ROOT/../shared/corpora}" "$T/task/bootstrap"
