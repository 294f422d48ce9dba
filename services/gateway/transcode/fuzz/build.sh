#!/usr/bin/env bash
# Builds (and with "run" / "run-json" also runs) the transcoder's libFuzzer targets with clang++-14 against
# the system protobuf/gRPC/Abseil: transcode_fuzz (transcode_fuzz.cc) and json_parse_fuzz (json_parse_fuzz.cc,
# the direct JSON parser against JsonStringToMessage). Not part of the CMake/g++ build. Usage, from anywhere:
#   services/gateway/transcode/fuzz/build.sh [OUT_DIR] [run|run-json [libFuzzer flags...]]
# OUT_DIR defaults to build-transcode/fuzz; e.g. build.sh "" run -max_total_time=60
# The sources they share are compiled once, two at a time, and only when changed since their object.
set -eu
ROOT=$(cd "$(dirname "$0")/../../../.." && pwd)
OUT=${1:-$ROOT/build-transcode/fuzz}
[ -n "$OUT" ] || OUT=$ROOT/build-transcode/fuzz
GOOGLEAPIS=/usr/share/gocode/src/github.com/gogo/googleapis
mkdir -p "$OUT/gen" "$OUT/obj"
cd "$ROOT"
protoc --cpp_out="$OUT/gen" -I"$GOOGLEAPIS" -I/usr/include google/api/http.proto google/api/annotations.proto
protoc --include_imports --descriptor_set_out="$OUT/transcode_testing.pb" -Iproto -I"$GOOGLEAPIS" \
  -I/usr/include crm/testing/v1/transcode.proto
CFLAGS="-std=c++20 -g -O1 -I. -I$OUT/gen $(pkg-config --cflags protobuf grpc++ absl_status absl_statusor absl_strings absl_cord absl_flat_hash_set)"
LIBS=$(pkg-config --libs protobuf grpc++ absl_status absl_statusor absl_strings absl_cord absl_flat_hash_set)
SRCS="$(ls services/gateway/transcode/*.cc | grep -v '_test\.cc$') libs/base/status.cc libs/base/strings.cc
  $OUT/gen/google/api/http.pb.cc $OUT/gen/google/api/annotations.pb.cc"
OBJS=""
running=0
for src in $SRCS; do
  obj="$OUT/obj/$(echo "$src" | sed "s#^$OUT/##; s#/#_#g; s#\.cc\$#.o#")"
  OBJS="$OBJS $obj"
  # A header change is not tracked: the objects depend on the .cc and the transcoder's headers only.
  if [ ! -f "$obj" ] || [ -n "$(find "$src" services/gateway/transcode/*.h -newer "$obj" 2>/dev/null | head -1)" ]; then
    # shellcheck disable=SC2086
    clang++-14 $CFLAGS -fsanitize=fuzzer-no-link,address,undefined -c "$src" -o "$obj.tmp" && mv "$obj.tmp" "$obj" &
    running=$((running + 1))
    # Two at a time (the machines have two cores); a failed compile fails the build (set -e).
    if [ "$running" -ge 2 ]; then wait -n; running=$((running - 1)); fi
  fi
done
while [ "$running" -gt 0 ]; do wait -n; running=$((running - 1)); done
for target in transcode_fuzz json_parse_fuzz; do
  # shellcheck disable=SC2086
  clang++-14 $CFLAGS -fsanitize=fuzzer,address,undefined \
    -DCRM_TRANSCODE_TESTING_PB="\"$OUT/transcode_testing.pb\"" \
    services/gateway/transcode/fuzz/$target.cc $OBJS $LIBS -o "$OUT/$target"
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
