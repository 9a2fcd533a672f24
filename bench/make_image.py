#!/usr/bin/python3
"""Builds a large container image in skopeo's `dir:` layout, streaming (constant memory).

tests/integration/make_image.py holds whole layers in memory and cannot make one beyond a few
hundred MB; the benchmark needs 512 MiB layers. Each layer is a gzip'd tar holding one file of
random bytes (os.urandom: incompressible, so the blob is about --size), written and hashed as it
streams. Prints the manifest digest. Output: manifest.json, one file per blob named by hex, version.
"""
import argparse
import gzip
import hashlib
import json
import os
import tarfile

CHUNK = 4 << 20


class HashingFile:
    """A write-only file object that hashes what goes through it."""

    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def write(self, b):
        self.h.update(b)
        self.n += len(b)
        return self.f.write(b)

    def flush(self):
        self.f.flush()


class RandomReader:
    def __init__(self, size):
        self.left = size

    def read(self, n=-1):
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return os.urandom(n)


def make_layer(out, index, size):
    tmp = os.path.join(out, "layer.tmp")
    with open(tmp, "wb") as raw_f:
        gz_hash = HashingFile(raw_f)
        # Level 1: the data is random, a higher level only burns time.
        with gzip.GzipFile(fileobj=gz_hash, mode="wb", mtime=0, compresslevel=1) as gz:
            tar_hash = HashingFile(gz)
            with tarfile.open(fileobj=tar_hash, mode="w|", format=tarfile.PAX_FORMAT, bufsize=CHUNK) as tar:
                info = tarfile.TarInfo("bench%d/data.bin" % index)
                info.size, info.mtime, info.mode = size, 1700000000, 0o644
                tar.addfile(info, RandomReader(size))
    digest = gz_hash.h.hexdigest()
    os.rename(tmp, os.path.join(out, digest))
    return "sha256:" + digest, gz_hash.n, "sha256:" + tar_hash.h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--size", type=int, required=True, help="random bytes per layer")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    layers, diff_ids = [], []
    for i in range(args.layers):
        digest, size, diff_id = make_layer(args.out, i, args.size)
        layers.append({"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                       "size": size, "digest": digest})
        diff_ids.append(diff_id)
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:20Z",
                         "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "history": [{"created_by": "bench layer %d" % i} for i in range(args.layers)]},
                        sort_keys=True, separators=(",", ":")).encode()
    ch = hashlib.sha256(config).hexdigest()
    with open(os.path.join(args.out, ch), "wb") as f:
        f.write(config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": len(config), "digest": "sha256:" + ch},
        "layers": layers,
    }, indent=3).encode()
    with open(os.path.join(args.out, "manifest.json"), "wb") as f:
        f.write(manifest)
    with open(os.path.join(args.out, "version"), "w") as f:
        f.write("Directory Transport Version: 1.1\n")
    print("sha256:" + hashlib.sha256(manifest).hexdigest())


if __name__ == "__main__":
    main()
