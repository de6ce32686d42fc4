#!/bin/sh
# lambda_zip.sh BINARY ZIP — package kinlake as an AWS Lambda custom runtime
# (provided.al2023, x86_64): ZIP holds
#   bootstrap   a two-line shell script: exec ./kinlake lambda $KINLAKE_LAMBDA_ARGS
#   kinlake     the binary, RPATH $ORIGIN/lib (see the Makefile's lambda build)
#   lib/        every shared library it loads except glibc's own (libcurl and its
#               dependencies included, which it loads on first use, not at exec)
# glibc is never bundled (it must match the system's ld.so). Amazon Linux 2023
# has glibc 2.34, so the binary and every bundled library must need no symbol
# version newer than GLIBC_2.34: checked here, the package is refused otherwise.
set -eu
bin=$1 zip=$2
MAX_GLIBC=${KL_LAMBDA_MAX_GLIBC:-2.34}
command -v zip >/dev/null || { echo "lambda-zip: 'zip' is missing (scripts/deps.sh installs it)" >&2; exit 1; }
stage=$(mktemp -d "${TMPDIR:-/tmp}/kl-lambda.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib" "$(dirname "$zip")"
cp "$bin" "$stage/kinlake"
strip --strip-debug "$stage/kinlake"
# glibc's own libraries, by soname prefix
is_glibc() {
	case $1 in
	linux-vdso.so* | ld-linux* | libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | \
	libresolv.so* | libutil.so* | libanl.so* | libnsl.so* | libmvec.so* | libBrokenLocale.so*) return 0 ;;
	esac
	return 1
}
# libcurl is not linked: the binary dlopen()s it on its first HTTP request
# (src/aws/curl_lazy.c), so ldd of the binary does not list it. Bundle it and
# its dependencies too (the executable's RPATH finds them for dlopen as well).
curl_so=$(${CC:-cc} -print-file-name=libcurl.so.4)
case $curl_so in
/*) ;;
*) curl_so=$(/sbin/ldconfig -p 2>/dev/null | awk '$1 == "libcurl.so.4" && /x86-64/ { print $NF; exit }') ;;
esac
[ -f "$curl_so" ] || { echo "lambda-zip: libcurl.so.4 not found (scripts/deps.sh installs it)" >&2; exit 1; }
{ ldd "$bin" && echo "	libcurl.so.4 => $curl_so (0)" && ldd "$curl_so"; } |
	awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | sort -u | while read -r name path; do
	is_glibc "$name" && continue
	cp -L "$path" "$stage/lib/$name"
	chmod 644 "$stage/lib/$name"
done
# symbol versions the package needs from glibc
too_new=$(for f in "$stage/kinlake" "$stage"/lib/*; do
	objdump -T "$f" | awk '/\*UND\*/' | grep -o 'GLIBC_[0-9.]*' | sed "s|^|$(basename "$f") |"
done | sort -u | while read -r f v; do
	n=${v#GLIBC_}
	[ "$(printf '%s\n%s\n' "$n" "$MAX_GLIBC" | sort -V | tail -1)" = "$MAX_GLIBC" ] || echo "$f needs $v"
done)
if [ -n "$too_new" ]; then
	echo "lambda-zip: needs a glibc newer than Amazon Linux 2023's $MAX_GLIBC:" >&2
	echo "$too_new" | sed 's/^/  /' >&2
	exit 1
fi
cat >"$stage/bootstrap" <<'SH'
#!/bin/sh
# AWS Lambda custom runtime entry point (provided.al2023): kinlake lambda.
# Extra options (kinlake lambda --help): the KINLAKE_LAMBDA_ARGS environment variable.
exec "${LAMBDA_TASK_ROOT:-${0%/*}}/kinlake" lambda ${KINLAKE_LAMBDA_ARGS-}
SH
chmod 755 "$stage/bootstrap" "$stage/kinlake"
# reproducible: fixed order and timestamps, no extra attributes
find "$stage" -exec touch -h -d '2020-01-01 00:00:00' {} +
zipabs=$(cd "$(dirname "$zip")" && pwd)/$(basename "$zip")
rm -f "$zipabs"
(cd "$stage" && find bootstrap kinlake lib -type f | LC_ALL=C sort | zip -q -X -9 "$zipabs" -@)
echo "lambda-zip: $zip ($(du -k "$zip" | cut -f1) kB; bootstrap, kinlake, $(ls "$stage/lib" | wc -l) libraries in lib/)" >&2
