#!/usr/bin/env bash
# run.sh: runs every test (C unit tests, command-line tests, a brief run of each fuzz target)
# and prints the total as its last line: "N passed, N failed".
# Each tests/cli/*.sh is one test: it runs the real binary and exits non-zero on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0

log=$(mktemp)
./build/unit_tests | tee "$log"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
if [ -n "$line" ]; then
    passed=$((passed + $(echo "$line" | awk '{print $1}')))
    failed=$((failed + $(echo "$line" | awk '{print $3}')))
    skipped=$((skipped + $(echo "$line" | awk '{print $5}')))
else
    echo "FAIL unit_tests: crashed before its summary"
    failed=$((failed + 1))
fi
rm -f "$log"

for t in tests/cli/*.sh; do
    [ -e "$t" ] || continue
    if out=$(bash "$t" 2>&1); then
        echo "ok   cli/$(basename "$t")"
        passed=$((passed + 1))
    else
        echo "FAIL cli/$(basename "$t")"
        # a script of many tests (serve_e2e.sh) names each failure on a FAIL line followed by its
        # details: those lines from the first FAIL, else the output's last 20 lines
        if printf '%s\n' "$out" | grep -q '^FAIL '; then
            printf '%s\n' "$out" | sed -n '/^FAIL /,$p' | grep -Ev '^ok( |$)' | head -n 200 | sed 's/^/    /'
        else
            echo "$out" | tail -n 20 | sed 's/^/    /'
        fi
        failed=$((failed + 1))
    fi
done

# Fuzz targets: each runs a bounded number of mutated inputs under ASan/UBSan.
for f in build/fuzz_*; do
    [ -x "$f" ] || continue
    if out=$("$f" "${FUZZ_ITERATIONS:-2000}" 2>&1); then
        echo "ok   $(basename "$f")"
        passed=$((passed + 1))
    else
        echo "FAIL $(basename "$f")"
        echo "$out" | tail -n 20 | sed 's/^/    /'
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
