#!/usr/bin/env bash
# Bad-input tests: every tests/errors/*.cnn must make cnnc exit 1, print each of
# its "# expect: " lines exactly as a line of stderr, and leave no output file
# behind. Expectations go at the end of the case (so line numbers stay put) or
# in NAME.expect. Optional "# flags: ..." line: extra cnnc arguments; other
# NAME.* files (weights) are copied beside the case.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-build}
case $build in /*) ;; *) build=$root/$build ;; esac
cnnc="$build/cnnc"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
[ $# -gt 0 ] || set -- "$root"/tests/errors/*.cnn
for f in "$@"; do
    [ -f "$f" ] || continue
    name=$(basename "$f")
    flags=$(sed -n 's/^# flags: //p' "$f")
    expect="$f"   # expectations live at the end of the case, or beside it for an empty file
    [ -f "${f%.cnn}.expect" ] && expect="${f%.cnn}.expect"
    cp "$f" "$tmp/$name"
    for extra in "$root"/tests/errors/"${name%.cnn}".*; do
        [ "$extra" = "$f" ] || cp "$extra" "$tmp/"
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
