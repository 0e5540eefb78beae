#!/usr/bin/env bash
# example-views.sh - write what `--summary` and `--emit=dot` show for every
# example, beside its .cnn: examples/DIR/NAME.summary.txt (the layer tables
# before and after optimization) and examples/DIR/NAME.svg (the compiled
# graph, drawn by Graphviz's dot). A file NAME.views beside the .cnn adds
# variants, one per line "SUFFIX CNNC-OPTIONS..." (e.g. "pruned -D channels=0.5"),
# written as NAME.SUFFIX.summary.txt and NAME.SUFFIX.svg. `make views` runs
# it; `make check` fails when a committed summary no longer matches what cnnc
# prints.
#
#   bash tools/example-views.sh [--check] [CNNC]
#
# --check: compare the committed summaries with cnnc's output instead of
# writing anything (no Graphviz needed).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
check=0
[ "${1:-}" = --check ] && { check=1; shift; }
cnnc=${1:-$root/build/cnnc}
case $cnnc in /*) ;; *) cnnc=$PWD/$cnnc ;; esac
status=0 n=0
# view DIR NAME SUFFIX OPTIONS...: one summary and one picture.
view() {
    local dir=$1 name=$2 out=$2$3 summary
    shift 3
    local rel=${dir#"$root"/}/$out
    summary=$(cd "$dir" && "$cnnc" "$name.cnn" "$@" --summary) || { status=1; return; }
    n=$((n + 1))
    if [ $check = 1 ]; then
        if ! diff -u "$dir/$out.summary.txt" - <<<"$summary" >/dev/null 2>&1; then
            echo "FAIL views: $rel.summary.txt differs from 'cnnc --summary' (make views rewrites it)"
            status=1
        fi
        return
    fi
    printf '%s\n' "$summary" >"$dir/$out.summary.txt"
    if command -v dot >/dev/null 2>&1; then
        (cd "$dir" && "$cnnc" "$name.cnn" "$@" --emit=dot) | dot -Tsvg >"$dir/$out.svg" || status=1
    else
        echo "example-views: dot (graphviz) not installed; $rel.svg not written" >&2
        status=1
    fi
    echo "  VIEWS   $rel.summary.txt $rel.svg"
}

for cnn in "$root"/examples/*/*.cnn; do
    dir=$(dirname "$cnn") name=$(basename "$cnn" .cnn)
    view "$dir" "$name" ""
    [ -f "$dir/$name.views" ] || continue
    while read -r suffix opts; do
        case $suffix in '' | '#'*) continue ;; esac
        # shellcheck disable=SC2086 # the options are words
        view "$dir" "$name" ".$suffix" $opts
    done <"$dir/$name.views"
done
[ $check = 1 ] && echo "views: $n summaries checked, $([ $status = 0 ] && echo "all current" || echo "some stale or failed")"
exit $status
