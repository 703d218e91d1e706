#!/usr/bin/env python3
"""Hand-made good-*/bad-* seeds of the fuzz targets whose inputs are not
frames: fuzz_mfile (one A_MFILE payload) and fuzz_elf (a program's bytes).
The frame-based targets' seeds come from mkcorpus.c (make corpus).

    tests/fuzz/mkseeds.py          # rewrites the seeds in corpus-mfile, corpus-elf

Run it after changing a format; commit what it writes.  Seeds found by
fuzzing (other names) are left alone.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, "corpus-" + target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- fuzz_mfile: hash[32] mode uid gid u32, size u64, type u8, path\0 [target\0]
def mfile(path, target=None, mode=0o755, uid=1000, gid=1000, size=4096,
          ftype=None):
    if ftype is None:
        ftype = 1 if target is not None else 0
    b = bytes(range(32)) + struct.pack(">IIIQB", mode, uid, gid, size, ftype)
    b += path + b"\0"
    if target is not None:
        b += target + b"\0"
    return b


def mfile_seeds():
    put("mfile", "good-reg", mfile(b"/usr/bin/prog"))
    put("mfile", "good-reg-root", mfile(b"/bin/x", mode=0o644, uid=0, gid=0))
    put("mfile", "good-link", mfile(b"/lib/libz.so.1", b"libz.so.1.2.13"))
    put("mfile", "good-link-abs", mfile(b"/usr/bin/python3",
                                        b"/usr/bin/python3.11"))
    put("mfile", "good-dots-in-name", mfile(b"/opt/a..b/..c"))
    put("mfile", "good-empty-file", mfile(b"/tmp/empty", size=0))
    put("mfile", "bad-empty", b"")
    put("mfile", "bad-fixed-only", mfile(b"/x")[:53])
    put("mfile", "bad-no-nul", mfile(b"/usr/bin/prog")[:-1])
    put("mfile", "bad-relative", mfile(b"usr/bin/prog"))
    put("mfile", "bad-dotdot", mfile(b"/usr/../etc/shadow"))
    put("mfile", "bad-dotdot-end", mfile(b"/usr/.."))
    put("mfile", "bad-type-2", mfile(b"/usr/bin/prog", ftype=2))
    put("mfile", "bad-link-no-target", mfile(b"/lib/x", ftype=1))
    put("mfile", "bad-link-target-no-nul",
        mfile(b"/lib/x", b"libx.so.1")[:-1])


# --- fuzz_elf: ELF64 little-endian x86-64 with .interp, .dynstr, .dynamic
def elf(interp=None, needed=(), runpath=None, rpath=None):
    strtab = b"\0"
    offs = {}

    def s(x):
        nonlocal strtab
        if x not in offs:
            offs[x] = len(strtab)
            strtab += x + b"\0"
        return offs[x]
    dyn = b""
    for n in needed:
        dyn += struct.pack("<qQ", 1, s(n))          # DT_NEEDED
    if rpath is not None:
        dyn += struct.pack("<qQ", 15, s(rpath))     # DT_RPATH
    if runpath is not None:
        dyn += struct.pack("<qQ", 29, s(runpath))   # DT_RUNPATH
    dyn += struct.pack("<qQ", 0, 0)                 # DT_NULL
    shstr = b"\0.interp\0.dynstr\0.dynamic\0.shstrtab\0"
    ip = (interp + b"\0") if interp is not None else b""
    ehsize, phsize, shsize = 64, 56, 64
    phnum = 1 if interp is not None else 0
    off = ehsize + phnum * phsize
    o_interp = off
    off += len(ip)
    o_dynstr = off
    off += len(strtab)
    off = (off + 7) & ~7
    o_dyn = off
    off += len(dyn)
    o_shstr = off
    off += len(shstr)
    off = (off + 7) & ~7
    o_sh = off
    eh = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    eh += struct.pack("<HHIQQQIHHHHHH", 3, 62, 1, 0, ehsize if phnum else 0,
                      o_sh, 0, ehsize, phsize, phnum, shsize, 5, 4)
    ph = b""
    if interp is not None:
        ph = struct.pack("<IIQQQQQQ", 3, 4, o_interp, o_interp, o_interp,
                         len(ip), len(ip), 1)
    body = bytearray(eh + ph + ip + strtab)
    body += bytes(o_dyn - len(body)) + dyn + shstr
    body += bytes(o_sh - len(body))

    def sh(name, typ, o, size, link=0, entsize=0):
        return struct.pack("<IIQQQQIIQQ", name, typ, 2, o, o, size, link, 0,
                           1, entsize)
    body += bytes(64)                                        # SHN_UNDEF
    body += sh(1, 1, o_interp, len(ip))                      # .interp
    body += sh(9, 3, o_dynstr, len(strtab))                  # .dynstr
    body += sh(17, 6, o_dyn, len(dyn), link=2, entsize=16)   # .dynamic
    body += sh(26, 3, o_shstr, len(shstr))                   # .shstrtab
    return bytes(body)


LOADER = b"/lib64/ld-linux-x86-64.so.2"


def elf_seeds():
    put("elf", "good-static", elf())
    put("elf", "good-dynamic", elf(LOADER, [b"libc.so.6"]))
    put("elf", "good-conf-include", elf(LOADER, [b"libopt.so", b"libc.so.6"]))
    put("elf", "good-symlinked-lib", elf(LOADER, [b"libz.so.1", b"libc.so.6"]))
    put("elf", "good-runpath-origin", elf(LOADER, [b"libapp.so"],
                                          runpath=b"$ORIGIN/lib"))
    put("elf", "good-rpath-braces", elf(LOADER, [b"libapp.so"],
                                        rpath=b"/nowhere:${ORIGIN}/lib"))
    put("elf", "good-needed-path", elf(LOADER, [b"/opt/lib/libopt.so"]))
    put("elf", "good-script", b"#!/bin/sh\necho hi\n")
    put("elf", "good-script-link", b"#! /usr/bin/python3 -u\nprint(1)\n")
    put("elf", "good-not-elf", b"just some data\n")
    put("elf", "good-empty", b"")
    put("elf", "bad-missing-lib", elf(LOADER, [b"libmissing.so.9"]))
    put("elf", "bad-runpath-hides-rpath", elf(LOADER, [b"libapp.so"],
                                              rpath=b"$ORIGIN/lib",
                                              runpath=b"/nowhere"))
    put("elf", "bad-missing-interp", elf(b"/lib/ld-missing.so.1",
                                         [b"libc.so.6"]))
    put("elf", "bad-interp-dir", elf(b"/etc/ld.so.conf.d", []))


if __name__ == "__main__":
    mfile_seeds()
    elf_seeds()
    sys.exit(0)
