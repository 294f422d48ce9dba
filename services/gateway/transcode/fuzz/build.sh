#!/bin/sh
# Builds (and with "run" / "run-json" also runs) the transcoder's libFuzzer targets with clang++-14 against
# the system protobuf/gRPC/Abseil: transcode_fuzz (transcode_fuzz.cc) and json_parse_fuzz (json_parse_fuzz.cc,
# the direct JSON parser against JsonStringToMessage). Not part of the CMake/g++ build. Usage, from anywhere:
#   services/gateway/transcode/fuzz/build.sh [OUT_DIR] [run|run-json [libFuzzer flags...]]
# OUT_DIR defaults to build-transcode/fuzz; e.g. build.sh "" run -max_total_time=60
set -eu
ROOT=$(cd "$(dirname "$0")/../../../.." && pwd)
OUT=${1:-$ROOT/build-transcode/fuzz}
[ -n "$OUT" ] || OUT=$ROOT/build-transcode/fuzz
GOOGLEAPIS=/usr/share/gocode/src/github.com/gogo/googleapis
mkdir -p "$OUT/gen"
cd "$ROOT"
protoc --cpp_out="$OUT/gen" -I"$GOOGLEAPIS" -I/usr/include google/api/http.proto google/api/annotations.proto
protoc --include_imports --descriptor_set_out="$OUT/transcode_testing.pb" -Iproto -I"$GOOGLEAPIS" \
  -I/usr/include crm/testing/v1/transcode.proto
SRCS=$(ls services/gateway/transcode/*.cc | grep -v '_test\.cc$')
for target in transcode_fuzz json_parse_fuzz; do
  # shellcheck disable=SC2046,SC2086
  clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. -I"$OUT/gen" \
    -DCRM_TRANSCODE_TESTING_PB="\"$OUT/transcode_testing.pb\"" \
    services/gateway/transcode/fuzz/$target.cc $SRCS libs/base/status.cc libs/base/strings.cc \
    "$OUT"/gen/google/api/http.pb.cc "$OUT"/gen/google/api/annotations.pb.cc \
    $(pkg-config --cflags --libs protobuf grpc++ absl_status absl_statusor absl_strings absl_cord absl_flat_hash_set) \
    -o "$OUT/$target"
  echo "built $OUT/$target"
done
if [ "${2:-}" = run ]; then
  shift 2
  mkdir -p "$OUT/corpus"
  exec "$OUT/transcode_fuzz" "$OUT/corpus" services/gateway/transcode/fuzz/corpus "$@"
fi
if [ "${2:-}" = run-json ]; then
  shift 2
  mkdir -p "$OUT/corpus_json"
  exec "$OUT/json_parse_fuzz" "$OUT/corpus_json" services/gateway/transcode/fuzz/corpus_json "$@"
fi
