#!/bin/sh
# Test gateway_openapi_validate: writes the OpenAPI document of each descriptor set with crm-openapi and
# validates it with tools/openapi/validate (Redocly CLI). Fails on the first document that does not
# generate or does not validate.
#   validate_test.sh CRM_OPENAPI VALIDATE OUT_DIR SET.pb...
set -eu
crm_openapi=$1
validate=$2
out_dir=$3
shift 3
mkdir -p "$out_dir"
for set in "$@"; do
  out="$out_dir/$(basename "$set" .pb).openapi.json"
  echo "== $set -> $out"
  "$crm_openapi" --descriptor-set "$set" --out "$out"
  "$validate" "$out"
done
echo "all documents valid"
