# bpcp's check that several sources have a directory to go to: $1 is it.
[ -d "$1" ] || { echo "E $1: Not a directory"; exit 1; }
