#!/usr/bin/env bash
# check-layout.sh - the compiler's layout rules (docs/design.md):
#   1. no file under compiler/ is over 900 lines;
#   2. no two compiler files call each other, directly or around a circle:
#      the call graph between object files (a file's undefined symbols that
#      another defines, from nm) has no cycle. ops/table.c's pointers to the
#      ops' OpDef data (opdef_*) are a table, not calls, and are left out.
#
#   bash tests/check-layout.sh [BUILD]      (objects from BUILD, default build)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${BUILD:-build}}
case $build in /*) ;; *) build=$root/$build ;; esac
fail=0

while read -r n f; do
    [ "$f" = total ] && continue
    if [ "$n" -gt 900 ]; then
        echo "FAIL layout: ${f#"$root"/} has $n lines (limit 900)"
        fail=1
    fi
done < <(wc -l "$root"/compiler/*.[ch] "$root"/compiler/ops/*.[ch] 2>/dev/null)

# The objects of today's sources (a renamed file's old object may linger).
objs=()
for c in "$root"/compiler/*.c "$root"/compiler/ops/*.c; do
    o=$build/${c#"$root"/}
    o=${o%.c}.o
    if [ ! -f "$o" ]; then
        echo "check-layout: ${o#"$root"/} not found; run make first" >&2
        exit 2
    fi
    objs+=("$o")
done
# "FILE T sym" / "FILE U sym" lines for every object, then the cycle search in awk.
for o in "${objs[@]}"; do
    nm "$o" | awk -v f="${o#"$build"/}" 'NF == 3 && $2 ~ /^[TDBRC]$/ {print f, "D", $3}
                                          NF == 2 && $1 == "U" {print f, "U", $2}'
done | awk '
    $2 == "D" { def[$3] = $1; next }
    { use[++n] = $1; sym[n] = $3 }
    END {
        for (i = 1; i <= n; i++) {
            a = use[i]; b = def[sym[i]]
            if (b == "" || b == a) continue
            if (a == "compiler/ops/table.o" && sym[i] ~ /^opdef_/) continue
            if (!((a, b) in edge)) { edge[a, b] = 1; out[a] = out[a] " " b; files[a] = 1; files[b] = 1 }
        }
        # depth-first search for a back edge
        for (f in files) state[f] = 0
        for (f in files) if (state[f] == 0 && dfs(f)) exit 1
        exit 0
    }
    function dfs(v,    k, m, w, list) {
        state[v] = 1; path[++depth] = v
        m = split(out[v], list, " ")
        for (k = 1; k <= m; k++) {
            w = list[k]
            if (state[w] == 1) { cycle(w); return 1 }
            if (state[w] == 0 && dfs(w)) return 1
        }
        state[v] = 2; depth--
        return 0
    }
    function cycle(w,    i, s, start) {
        for (i = 1; i <= depth; i++) if (path[i] == w) start = i
        s = ""
        for (i = start; i <= depth; i++) s = s path[i] " -> "
        print "FAIL layout: call cycle: " s w
    }' || fail=1

if [ $fail -eq 0 ]; then
    echo "layout: 2 passed, 0 failed"
else
    exit 1
fi
