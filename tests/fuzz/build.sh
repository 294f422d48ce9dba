#!/bin/sh
# Builds (and with "run" also runs) the clang libFuzzer build of crm-hostile-fuzz (README.md, "libFuzzer"):
# a CMake build dir of its own configured with clang-14 and CRM_LIBFUZZER=ON (every library with coverage,
# ASan and UBSan), building only crm-hostile-fuzz. Not part of `tools/crm test`. Usage, from anywhere:
#   tests/fuzz/build.sh [BUILD_DIR] [run [libFuzzer flags...]]
# BUILD_DIR defaults to build-fuzz at the repo root; e.g. tests/fuzz/build.sh "" run -max_total_time=60
# "run" needs CRM_TEST_PG_DSN (a role that may create databases; the target creates and drops its own) and
# takes CRM_TEST_KAFKA_BROKERS if set. The dev cluster and broker of `tools/crm up` will do:
#   CRM_TEST_PG_DSN="host=127.0.0.1 port=15432 user=postgres password=$(cat .crm/pg/superuser.password) dbname=postgres" \
#   CRM_TEST_KAFKA_BROKERS=$(cat .crm/brokers) tests/fuzz/build.sh "" run -max_total_time=60
# New inputs go to BUILD_DIR/tests/fuzz/corpus (tests/fuzz/corpus seeds it), crashes to BUILD_DIR/tests/fuzz/.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/build-fuzz
if [ $# -gt 0 ] && [ "$1" != run ]; then
  [ -z "$1" ] || OUT=$1
  shift
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
if [ "${1:-}" = run ] && [ -z "${CRM_TEST_PG_DSN:-}" ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  echo "build.sh: run needs CRM_TEST_PG_DSN" >&2
  exit 2
fi
gen=""
[ -f "$OUT/build.ninja" ] || gen="-G Ninja"
# shellcheck disable=SC2086
cmake -S "$ROOT" -B "$OUT" $gen -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-14 \
  -DCMAKE_CXX_COMPILER=clang++-14 -DCRM_LIBFUZZER=ON >/dev/null
ninja -C "$OUT" crm-hostile-fuzz
BIN=$OUT/tests/fuzz/crm-hostile-fuzz
echo "built $BIN"
if [ "${1:-}" = run ]; then
  shift
  mkdir -p "$OUT/tests/fuzz/corpus"
  # UBSan stops at its first report (libFuzzer then saves the input); ASan's defaults are kept.
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
  exec "$BIN" -artifact_prefix="$OUT/tests/fuzz/" "$@" "$OUT/tests/fuzz/corpus" "$ROOT/tests/fuzz/corpus"
fi
