#!/usr/bin/env bash
# `ftune validate` over the corpus in tests/data/validate: for every case in cases.txt, the exit
# status, the number of errors and warnings, and each expected problem as an exact output line.
set -uo pipefail
dir=tests/data/validate
fails=0 n=0
declare -A seen
while IFS=$'\t' read -r file args want_exit errors warnings line code message; do
    [[ $file == \#* || -z $file ]] && continue
    n=$((n + 1))
    [[ $args == - ]] && args=""
    if [[ $args == *--model* ]]; then
        model=$(sed 's/.*--model \([^ ]*\).*/\1/' <<<"$args")
        [[ -e $model ]] || { echo "skip $file: $model is missing"; continue; }
    fi
    # shellcheck disable=SC2086
    out=$(./build/ftune validate "$dir/$file" $args 2>&1)
    rc=$?
    if [[ -z ${seen[$file]:-} ]]; then
        seen[$file]=1
        [[ $rc == "$want_exit" ]] || { echo "FAIL $file: exit $rc, expected $want_exit"; fails=$((fails + 1)); }
        for kind in errors warnings; do
            want=${!kind}
            if [[ $want == 0 ]]; then
                grep -q "^$kind (" <<<"$out" && { echo "FAIL $file: unexpected $kind"; fails=$((fails + 1)); }
            else
                grep -qx "$kind ($want):" <<<"$out" || { echo "FAIL $file: expected '$kind ($want):'"; fails=$((fails + 1)); }
            fi
        done
    fi
    if [[ $message != - ]] && ! grep -qxF -- "  $message" <<<"$out"; then
        echo "FAIL $file: missing line: $message"
        echo "$out" | sed -n '/^errors\|^warnings/,/^$/p' | sed 's/^/    got: /'
        fails=$((fails + 1))
    fi
done <"$dir/cases.txt"
echo "$n manifest rows, ${#seen[@]} files, $fails failures"
[[ $fails == 0 && ${#seen[@]} -ge 40 ]]
