#!/usr/bin/env bash
# Bad-input tests: every tests/errors/*.cnn must make cnnc exit 1, print each of
# its "# expect: " lines exactly as a line of stderr, and leave no output file
# behind. Expectations go at the end of the case (so line numbers stay put) or
# in NAME.expect. Optional "# flags: ..." line: extra cnnc arguments; other
# NAME.* files (weights) are copied beside the case. Inputs too large to commit
# (a 10 MB line) are made at test time: NAME.gen is a bash script that prints
# the case to stdout, with its expectations in NAME.expect.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
cnnc="$build/cnnc"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
[ $# -gt 0 ] || set -- "$root"/tests/errors/*.cnn "$root"/tests/errors/*.gen
for f in "$@"; do
    case $f in *.cnn | *.gen) [ -f "$f" ] || continue ;; *) continue ;; esac
    base=${f%.*}
    name=$(basename "$base").cnn
    expect="$f"   # expectations live at the end of the case, or beside it for an empty file
    [ -f "$base.expect" ] && expect="$base.expect"
    if [ "${f##*.}" = gen ]; then
        bash "$f" >"$tmp/$name"
    else
        cp "$f" "$tmp/$name"
    fi
    flags=$(sed -n "s/^# flags: //p" "$tmp/$name" "$expect" | head -n 1)
    for extra in "$base".*; do
        case $extra in "$f" | *.gen | *.cnn | *.expect) ;; *) cp "$extra" "$tmp/" ;; esac
    done
    (cd "$tmp" && "$cnnc" "$name" -o out.c $flags >"$tmp/stdout" 2>"$tmp/stderr")
    status=$?
    problem=""
    if [ $status -ne 1 ]; then
        problem="exit status $status, expected 1"
    elif [ -e "$tmp/out.c" ] || [ -e "$tmp/out.h" ] || ls "$tmp"/out.c.tmp* >/dev/null 2>&1; then
        problem="an output file was left behind"
    else
        while IFS= read -r want; do
            if ! grep -qxF -- "$want" "$tmp/stderr"; then
                problem="missing diagnostic: $want"
                break
            fi
        done < <(sed -n 's/^# expect: //p' "$expect")
        grep -q '^# expect: ' "$expect" || problem="no '# expect:' line in the case"
    fi
    rm -f "$tmp"/out.* "$tmp/$name"
    if [ -z "$problem" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL $name: $problem"
        sed 's/^/    | /' "$tmp/stderr" | head -8
    fi
done
echo "errors: $pass passed, $fail failed"
[ $fail -eq 0 ]
