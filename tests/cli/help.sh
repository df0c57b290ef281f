#!/usr/bin/env bash
# Every command answers --help (and -h) with its usage on stderr and exit status 0; a missing
# required option is a usage error with exit status 2.
set -uo pipefail
for c in chat tokenize embed info train validate export serve eval keys pull dataset; do
    for h in --help -h; do
        out=$(./build/ftune $c $h 2>&1)
        rc=$?
        [ $rc -eq 0 ] || { echo "ftune $c $h: exit $rc"; exit 1; }
        grep -q "usage: ftune $c" <<<"$out" || { echo "ftune $c $h: no usage: $out"; exit 1; }
    done
done
./build/ftune info >/dev/null 2>&1
[ $? -eq 2 ] || { echo "ftune info without --model should exit 2"; exit 1; }
./build/ftune info --model models/stories260K.gguf --bogus >/dev/null 2>&1
[ $? -eq 2 ] || { echo "an unknown option should exit 2"; exit 1; }
./build/ftune --help >/dev/null 2>&1 || { echo "ftune --help should exit 0"; exit 1; }
echo ok
