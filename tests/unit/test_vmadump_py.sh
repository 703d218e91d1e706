#!/bin/bash
# A Python interpreter (ctypes into libbproc.so) dumps itself with a
# 32 MB object on its heap and many modules loaded; a second interpreter
# bproc_undump()s the image, and the resumed one checks the object's
# digest, uses the modules and exits 42.  Exit 0 pass, 1 fail, 77 skip.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/out}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
LIB=$OUT/lib/libbproc.so

command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
[ -e "$LIB" ] || { echo "SKIP: $LIB is not built"; exit 77; }
tmp=$(mktemp -d /dev/shm/test_vmadump_py.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/dump.py" <<'PY'
import ctypes, hashlib, os, sys
lib = ctypes.CDLL(sys.argv[1], use_errno=True)
big = bytearray(os.urandom(1 << 20)) * 32
digest = hashlib.sha256(big).hexdigest()
import json, decimal, collections, re
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
r = lib.bproc_dump(fd, 0)
if r == 1:
    ok = hashlib.sha256(big).hexdigest() == digest
    out = json.dumps({"pid": os.getpid(), "seventh": str(decimal.Decimal(1) / 7),
                      "re": re.sub("a+", "b", "caaat")})
    print("resumed", "ok" if ok else "HEAP DIFFERS", out, flush=True)
    os._exit(42 if ok else 1)
if r != 0:
    print("bproc_dump:", os.strerror(ctypes.get_errno()))
    sys.exit(1)
print("dumped pid", os.getpid(), os.fstat(fd).st_size, "bytes")
PY
cat >"$tmp/undump.py" <<'PY'
import ctypes, os, sys
lib = ctypes.CDLL(sys.argv[1], use_errno=True)
lib.bproc_undump(os.open(sys.argv[2], os.O_RDONLY))
print("bproc_undump:", os.strerror(ctypes.get_errno()))
sys.exit(1)
PY

python3 "$tmp/dump.py" "$LIB" "$tmp/py.img" || { echo "FAIL: the dump"; exit 1; }
out=$(python3 "$tmp/undump.py" "$LIB" "$tmp/py.img")
rc=$?
echo "$out"
[ "$rc" = 42 ] || { echo "FAIL: the resumed interpreter exited $rc"; exit 1; }
case $out in
*'resumed ok'*'"seventh": "0.1428571428571428571428571429"'*'"re": "cbt"'*) ;;
*) echo "FAIL: unexpected output"; exit 1 ;;
esac
echo "PASS"
