#!/usr/bin/python3
"""Checks a skopeo `dir:` image: every blob file's sha256 equals its name, the
manifest references only blobs that are present with the declared sizes, and
(optionally) the manifest's own digest equals an expected one.

usage: verify_dir.py DIR [EXPECTED_MANIFEST_DIGEST]
Prints a one-line summary; exits 1 with a reason on any mismatch.
"""
import hashlib
import json
import os
import re
import sys


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    d = sys.argv[1]
    expected = sys.argv[2] if len(sys.argv) == 3 else ""
    errors = []
    mpath = os.path.join(d, "manifest.json")
    if not os.path.isfile(mpath):
        print("verify_dir: %s has no manifest.json" % d)
        return 1
    with open(mpath, "rb") as f:
        mbytes = f.read()
    mdigest = "sha256:" + hashlib.sha256(mbytes).hexdigest()
    if expected and mdigest != expected:
        errors.append("manifest digest %s != expected %s" % (mdigest, expected))
    try:
        manifest = json.loads(mbytes)
    except ValueError as e:
        print("verify_dir: manifest.json is not JSON: %s" % e)
        return 1

    blobs = {}
    for name in os.listdir(d):
        if re.fullmatch(r"[0-9a-f]{64}", name):
            actual = sha256_file(os.path.join(d, name))
            if actual != name:
                errors.append("blob %s has sha256 %s" % (name, actual))
            blobs[name] = os.path.getsize(os.path.join(d, name))

    refs = []
    if "config" in manifest:
        refs.append(manifest["config"])
    refs.extend(manifest.get("layers", []))
    for r in manifest.get("fsLayers", []):  # schema1, just in case
        refs.append({"digest": r["blobSum"]})
    if not refs:
        errors.append("manifest references no blobs (mediaType %s)" % manifest.get("mediaType"))
    for r in refs:
        dg = r.get("digest", "")
        if not dg.startswith("sha256:"):
            errors.append("unsupported digest %r" % dg)
            continue
        hexd = dg[len("sha256:"):]
        if hexd not in blobs:
            errors.append("referenced blob %s missing" % dg)
        elif "size" in r and r["size"] != blobs[hexd]:
            errors.append("blob %s size %d != manifest size %d" % (dg, blobs[hexd], r["size"]))

    if errors:
        for e in errors:
            print("verify_dir: " + e)
        return 1
    print("verify_dir: digests verified: %s manifest %s, %d blobs, %d bytes"
          % (d, mdigest, len(blobs), sum(blobs.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
