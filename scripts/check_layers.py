#!/usr/bin/env python3
"""check_layers.py - the build's check that dependencies point one way.

Every #include "x.h" of a source file in a library folder must name a header
of its own folder or a public header of a layer below it (docs/developing.md,
"The map"). Private headers (*_impl.h, *_internal.h and the other headers of
a module that are not listed as public) may be included only from their own
folder. tests/ and benchmarks/ may include anything: they check the modules
from outside. Run by the build (target ifs_layers); exits 1 naming every
violation, with the rule it breaks.

    python3 scripts/check_layers.py [SOURCE_DIR]
"""
import os
import re
import sys

# Layers, bottom up. A folder may include its own headers and the public
# headers of the folders listed in `uses`.
LAYERS = {
    "tokenizer": {"uses": []},
    "weights": {"uses": []},
    "kernels": {"uses": ["weights"]},
    "host": {"uses": ["tokenizer", "weights", "kernels"]},
    "datasets": {"uses": ["host", "tokenizer", "weights"]},
    "host/cli": {"uses": ["host", "datasets", "tokenizer", "weights", "kernels"]},
}
# The public header(s) of each module: what a layer above may include.
PUBLIC = {
    "tokenizer": {"ifs_tok.h"},
    "weights": {"ifs_wts.h", "ifs_sha256.h"},
    "kernels": {"ifs_backend.h", "ifs_cpu_ops.h"},
    "host": None,  # every ifs_*.h of host/ is a public module header
    "datasets": {"ifs_ds.h"},
    "host/cli": {"ifs_cli.h", "ifs_progress.h"},
}
# Sources compiled into a target other than their folder's.
MOVED = [(re.compile(r"^datasets/cmd_[^/]*\.c$"), "host/cli")]

SRC_EXT = (".c", ".h", ".cu", ".cuh", ".cpp")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(rel):
    for pat, layer in MOVED:
        if pat.match(rel):
            return layer
    best = None
    for layer in LAYERS:
        if rel.startswith(layer + "/") and (best is None or len(layer) > len(best)):
            best = layer
    return best


def is_public(layer, header):
    pub = PUBLIC[layer]
    if pub is None:
        return header.startswith("ifs_") and not header.endswith(("_impl.h", "_internal.h"))
    return header in pub


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    headers = {}  # header name -> the layers (folders) defining it
    files = []
    for layer in LAYERS:
        top = os.path.join(root, layer)
        for dirpath, dirnames, filenames in os.walk(top):
            # a sub-folder that is a layer of its own is walked as that layer
            dirnames[:] = [d for d in dirnames
                           if os.path.relpath(os.path.join(dirpath, d), root) not in LAYERS]
            for f in filenames:
                if f.endswith(SRC_EXT):
                    rel = os.path.relpath(os.path.join(dirpath, f), root)
                    files.append(rel)
                    if f.endswith((".h", ".cuh")):
                        headers.setdefault(f, set()).add(layer)
    bad = []
    for rel in sorted(files):
        me = layer_of(rel)
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        for inc in INCLUDE.findall(text):
            name = os.path.basename(inc)
            owners = headers.get(name)
            if not owners:
                continue  # a generated header (ifs_commit.h) or a system one
            own_folder = os.path.dirname(rel)
            moved = layer_of(rel) != layer_of(os.path.join(own_folder, "x.c"))
            local = os.path.normpath(os.path.join(own_folder, inc))
            if os.path.exists(os.path.join(root, local)):
                # a path relative to the file: its layer is where it lies
                if layer_of(local) == me and not moved:
                    continue  # its own folder's header (private ones included)
                owners = {layer_of(local)}
            ok = False
            for owner in owners:
                if owner == me or (owner in LAYERS[me]["uses"] and is_public(owner, name)):
                    ok = True
            if not ok:
                why = ("a private header of " + "/".join(sorted(owners))
                       if any(o == me or o in LAYERS[me]["uses"] for o in owners)
                       else "a header of a layer %s may not use" % me)
                bad.append("%s: includes \"%s\", %s" % (rel, inc, why))
    for line in bad:
        print("layering: " + line)
    if bad:
        print("layering: %d violation(s); the map is in docs/developing.md" % len(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
