#!/usr/bin/python3
"""Builds a small but real container image in skopeo's `dir:` layout.

Layers are gzip'd tarballs of deterministic pseudo-random data (seeded from
--seed, so the same arguments always give the same digests), the config is a
real image config JSON with matching rootfs.diff_ids, and the manifest is
either a Docker v2 schema2 or an OCI image manifest.

Output directory contents (what `skopeo copy dir:OUT docker://...` expects):
  manifest.json            the manifest bytes
  <hex>                    one file per blob (config + layers), named by sha256 hex
  version                  "Directory Transport Version: 1.1\n"

Prints the manifest digest ("sha256:...") on stdout.

With --platforms OS/ARCH,OS/ARCH... it builds one such image per platform (its
layers seeded from --seed and the platform, its config naming that os and
architecture) and an image index over them: a Docker manifest list with
--format docker, an OCI image index with --format oci. Then:
  manifest.json            the index
  <hex>.manifest.json      each platform's manifest (skopeo's dir: layout for
                           the instances of a list; push with `skopeo copy --all`)
  <hex>                    the blobs of every platform
and stdout has the index digest on the first line, then one line per platform:
"OS/ARCH sha256:<manifest digest>".
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import random
import sys
import tarfile

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def go_arch():
    m = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(m, m)


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def make_layer(rng, index, size):
    """Returns (uncompressed tar bytes, gzip bytes). Fully deterministic."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, data, mode=0o644):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1700000000
            info.mode = mode
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))

        d = tarfile.TarInfo("layer%d" % index)
        d.type = tarfile.DIRTYPE
        d.mode = 0o755
        d.mtime = 1700000000
        tar.addfile(d)
        add("layer%d/README" % index, ("pullthrough test layer %d\n" % index).encode())
        # Random bytes do not compress, so the blob size is close to --size.
        add("layer%d/data.bin" % index, rng.randbytes(size))
    raw = buf.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0, compresslevel=6) as g:
        g.write(raw)
    return raw, gz.getvalue()


def build_image(out, rng, args, arch, os_name, seed):
    """Writes the blobs of one image into out; returns the manifest bytes."""
    def write_blob(data):
        h = sha256_hex(data)
        with open(os.path.join(out, h), "wb") as f:
            f.write(data)
        return "sha256:" + h

    oci = args.format == "oci"
    layers = []
    diff_ids = []
    history = []
    for i in range(args.layers):
        raw, gz = make_layer(rng, i, args.size)
        diff_ids.append("sha256:" + sha256_hex(raw))
        layers.append({
            "mediaType": OCI_LAYER if oci else DOCKER_LAYER,
            "size": len(gz),
            "digest": write_blob(gz),
        })
        history.append({"created": "2023-11-14T22:13:20Z",
                        "created_by": "pullthrough-test layer %d (seed %s)" % (i, seed)})

    config = {
        "architecture": arch,
        "os": os_name,
        "created": "2023-11-14T22:13:20Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["/bin/sh"],
                   "Labels": {"org.pullthrough.test.seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG if oci else DOCKER_CONFIG,
            "size": len(config_bytes),
            "digest": write_blob(config_bytes),
        },
        "layers": layers,
    }
    return json.dumps(manifest, indent=3).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--size", type=int, default=256 * 1024, help="random bytes per layer")
    ap.add_argument("--seed", default="pullthrough")
    ap.add_argument("--format", choices=["docker", "oci"], default="docker")
    ap.add_argument("--platforms", default="",
                    help="OS/ARCH,... : an image per platform and an index over them")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "version"), "w") as f:
        f.write("Directory Transport Version: 1.1\n")

    if not args.platforms:
        manifest_bytes = build_image(args.out, random.Random(args.seed), args, go_arch(), "linux", args.seed)
        with open(os.path.join(args.out, "manifest.json"), "wb") as f:
            f.write(manifest_bytes)
        print("sha256:" + sha256_hex(manifest_bytes))
        return 0

    oci = args.format == "oci"
    entries = []
    lines = []
    for platform_name in args.platforms.split(","):
        os_name, arch = platform_name.split("/")
        seed = "%s/%s" % (args.seed, platform_name)
        manifest_bytes = build_image(args.out, random.Random(seed), args, arch, os_name, seed)
        h = sha256_hex(manifest_bytes)
        with open(os.path.join(args.out, h + ".manifest.json"), "wb") as f:
            f.write(manifest_bytes)
        entries.append({
            "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
            "size": len(manifest_bytes),
            "digest": "sha256:" + h,
            "platform": {"architecture": arch, "os": os_name},
        })
        lines.append("%s sha256:%s" % (platform_name, h))
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX if oci else DOCKER_LIST, "manifests": entries}
    index_bytes = json.dumps(index, indent=3).encode()
    with open(os.path.join(args.out, "manifest.json"), "wb") as f:
        f.write(index_bytes)
    print("sha256:" + sha256_hex(index_bytes))
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
