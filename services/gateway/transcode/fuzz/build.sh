#!/bin/sh
# Builds (and with "run" also runs) the transcoder's libFuzzer target with clang++-14 against the
# system protobuf/gRPC/Abseil. Not part of the CMake/g++ build. Usage, from anywhere:
#   services/gateway/transcode/fuzz/build.sh [OUT_DIR] [run [libFuzzer flags...]]
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
# shellcheck disable=SC2046,SC2086
clang++-14 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. -I"$OUT/gen" \
  -DCRM_TRANSCODE_TESTING_PB="\"$OUT/transcode_testing.pb\"" \
  services/gateway/transcode/fuzz/transcode_fuzz.cc $SRCS libs/base/status.cc libs/base/strings.cc \
  "$OUT"/gen/google/api/http.pb.cc "$OUT"/gen/google/api/annotations.pb.cc \
  $(pkg-config --cflags --libs protobuf grpc++ absl_status absl_statusor absl_strings absl_cord) \
  -o "$OUT/transcode_fuzz"
echo "built $OUT/transcode_fuzz"
if [ "${2:-}" = run ]; then
  shift 2
  mkdir -p "$OUT/corpus"
  exec "$OUT/transcode_fuzz" "$OUT/corpus" services/gateway/transcode/fuzz/corpus "$@"
fi
