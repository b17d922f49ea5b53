#!/bin/sh
# A stand-in for a slow API call: takes 20-100 ms, answers with a line of JSON, and fails
# now and then (about 1 call in 25) as real services do.
set -eu
order=$1
ms=$(( $(od -An -N2 -tu2 /dev/urandom) % 81 + 20 ))
sleep "0.$(printf '%03d' "$ms")"
if [ $(( $(od -An -N1 -tu1 /dev/urandom) % 25 )) -eq 0 ]; then
  echo "503 Service Unavailable for $order" >&2
  exit 1
fi
printf '{"order":"%s","price":%d,"took_ms":%d}\n' "$order" $(( ms * 7 % 500 )) "$ms"
