#!/bin/bash
# The BProc 4 conformance suite's second half: the process tree as
# getppid and ps show it, rfork then fork, and moving a whole tree, in
# every arrangement (t48_bproc4_conf.sh says how).
T48_TESTS="tree rforkfork move"
. "$(dirname "$0")/t48_bproc4_conf.sh"
