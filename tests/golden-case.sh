# golden-case.sh - sourced by the scripts that walk tests/golden (bash).
#
# case_cnn DIR: the .cnn file a golden case compiles. Usually DIR/net.cnn; a
# case may instead hold `source`, whose first line is the path of the .cnn
# (relative to DIR, or absolute): the examples' cases compile the example's
# own file, not a copy.
case_cnn() {
    local dir=${1%/} src
    if [ -f "$dir/source" ]; then
        read -r src <"$dir/source" || true
        case $src in
        /*) printf '%s\n' "$src" ;;
        *) printf '%s\n' "$dir/$src" ;;
        esac
    else
        printf '%s\n' "$dir/net.cnn"
    fi
}
