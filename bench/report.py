#!/usr/bin/python3
"""Turns bench/run.sh's raw measurements into the results table.

Reads DIR/raw.tsv (metric, system, value per line; one line per repetition) and DIR/meta.tsv,
prints the table, writes DIR/results.md and, when matplotlib is installed, DIR/pulls.png.
Every figure is the median over its repetitions; ratios compare medians of the same run.
"""
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def load(d):
    raw = defaultdict(list)
    for line in (d / "raw.tsv").read_text().splitlines():
        if line.strip():
            metric, system, value = line.split("\t")
            raw[(metric, system)].append(float(value))
    meta = {}
    for line in (d / "meta.tsv").read_text().splitlines():
        if "\t" in line:
            k, v = line.split("\t", 1)
            meta[k] = v
    return raw, meta


class Figures:
    def __init__(self, raw):
        self.raw = raw

    def med(self, metric, system):
        v = self.raw.get((metric, system))
        return statistics.median(v) if v else None

    def all(self, metric, system):
        return self.raw.get((metric, system), [])

    def max(self, metric, system):
        v = self.raw.get((metric, system))
        return max(v) if v else None

    def min(self, metric, system):
        v = self.raw.get((metric, system))
        return min(v) if v else None


def fmt(v, unit="", digits=2):
    if v is None:
        return "n/a"
    return f"{v:.{digits}f}{unit}"


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(ok):
    return "n/a" if ok is None else ("**met**" if ok else "**NOT met**")


def main():
    d = Path(sys.argv[1])
    raw, meta = load(d)
    f = Figures(raw)
    systems = [s for s in ("direct", "pullthrough", "squid") if f.all("cold_big", s)]
    out = []
    w = out.append
    w("# pullthrough benchmark results\n")
    w("| | |\n| --- | --- |")
    for k in ("date", "commit", "binary", "cpus", "settings", "upstream", "image_big", "image_many", "tools",
              "loadavg_start", "loadavg_end", "storm_tls_pullthrough", "storm_tls_nginx"):
        if k in meta:
            w(f"| {k} | {meta[k]} |")
    w("")
    w("The machine is shared: other engineers compile on the same 2 cores while this runs (see the load "
      "averages above), and every client (skopeo, curl, pt_loadgen) runs on those cores too. Figures are "
      "medians over the repetitions; every ratio compares medians measured in this same run, with the "
      "systems interleaved repetition by repetition.\n")

    # ---- pulls
    w("## 1-2. Pulls with skopeo (seconds, median; min-max)\n")
    w("| image | pull | " + " | ".join(systems) + " |")
    w("| --- | --- |" + " --- |" * len(systems))
    for img in ("big", "many"):
        for kind in ("cold", "warm"):
            cells = []
            for s in systems:
                v = f.all(f"{kind}_{img}", s)
                cells.append(f"{fmt(f.med(f'{kind}_{img}', s))} ({fmt(min(v))}-{fmt(max(v))})" if v else "n/a")
            w(f"| {img} ({meta.get('image_' + img, '')}) | {kind} | " + " | ".join(cells) + " |")
    w("")

    targets = []  # (target, figure, verdict, note)
    for img in ("big", "many"):
        cd = f.med(f"cold_{img}", "direct")
        wp = f.med(f"warm_{img}", "pullthrough")
        ws = f.med(f"warm_{img}", "squid")
        cp = f.med(f"cold_{img}", "pullthrough")
        r = ratio(cd, wp)
        targets.append((f"Warm pull {img}: >= 3x faster than cold direct",
                        f"cold direct {fmt(cd)} s / warm pullthrough {fmt(wp)} s = {fmt(r)}x",
                        verdict(None if r is None else r >= 3), ""))
        if ws is not None:
            targets.append((f"Warm pull {img}: faster than squid",
                            f"pullthrough {fmt(wp)} s vs squid {fmt(ws)} s ({fmt(ratio(ws, wp))}x)",
                            verdict(wp < ws), ""))
        r = ratio(cp, cd)
        targets.append((f"Cold pull {img}: within 10% of direct",
                        f"pullthrough {fmt(cp)} s / direct {fmt(cd)} s = {fmt(r, digits=3)}"
                        + (f"; squid {fmt(f.med(f'cold_{img}', 'squid'))} s = {fmt(ratio(f.med(f'cold_{img}', 'squid'), cd), digits=3)}"
                           if f.all(f"cold_{img}", "squid") else ""),
                        verdict(None if r is None else r <= 1.10), ""))

    # ---- throughput
    hp, hn, hd = (f.med("hit_Bps", s) for s in ("pullthrough", "nginx", "direct"))
    r = ratio(hp, hn)
    targets.append(("Cache-hit throughput >= 80% of nginx (TLS, loopback)",
                    f"pullthrough {fmt(hp and hp / 1e6, ' MB/s', 0)} / nginx {fmt(hn and hn / 1e6, ' MB/s', 0)} = "
                    f"{fmt(r and r * 100, '%', 0)} (registry direct: {fmt(hd and hd / 1e6, ' MB/s', 0)}; "
                    f"MISS fill: {fmt(f.med('stream_miss_Bps', 'pullthrough') and f.med('stream_miss_Bps', 'pullthrough') / 1e6, ' MB/s', 0)})",
                    verdict(None if r is None else r >= 0.8), ""))

    # ---- storm
    ka_rps, ka_p99 = f.med("storm_keepalive_rps", "pullthrough"), f.med("storm_keepalive_p99_ms", "pullthrough")
    hs_rps, hs_p99 = f.med("storm_handshake_rps", "pullthrough"), f.med("storm_handshake_p99_ms", "pullthrough")
    rs_rps, rs_p99 = f.med("storm_resumed_rps", "pullthrough"), f.med("storm_resumed_p99_ms", "pullthrough")
    errs = sum(sum(f.all(f"storm_{n}_errors", "pullthrough")) for n in ("keepalive", "handshake", "resumed"))

    def vs_nginx(n):  # "nginx baseline R /s: pullthrough = Xx; server CPU per request P µs vs N µs"
        nrps = f.med(f"storm_{n}_rps", "nginx")
        if nrps is None:
            return ""
        return (f"nginx baseline {fmt(nrps, ' /s', 0)}: pullthrough = {fmt(ratio(f.med(f'storm_{n}_rps', 'pullthrough'), nrps), 'x')}; "
                f"server CPU per request {fmt(cpu_per_request_us(n, 'pullthrough'), ' µs', 0)} vs "
                f"{fmt(cpu_per_request_us(n, 'nginx'), ' µs', 0)}")

    def cpu_per_request_us(n, system):
        util, rps = f.med(f"storm_{n}_cpu_util", system), f.med(f"storm_{n}_rps", system)
        return util / rps * 1e6 if util is not None and rps else None

    targets.append(("HEAD storm keep-alive: >= 20,000 req/s",
                    f"{fmt(ka_rps, ' req/s', 0)} (proxy CPU {fmt(f.med('storm_keepalive_cpu_util', 'pullthrough'), ' cores')})",
                    verdict(None if ka_rps is None else ka_rps >= 20000), vs_nginx("keepalive")))
    targets.append(("HEAD storm keep-alive: p99 < 5 ms", f"p99 {fmt(ka_p99, ' ms')}",
                    verdict(None if ka_p99 is None else ka_p99 < 5), ""))
    resumed = f.med("storm_resumed_resumed", "pullthrough")
    rs_req = None if rs_rps is None else rs_rps * 1
    targets.append(("New CONNECT+TLS per request: >= 2,000 handshakes/s",
                    f"full handshakes {fmt(hs_rps, ' /s', 0)} (p99 {fmt(hs_p99, ' ms')}); with resumption offered "
                    f"{fmt(rs_rps, ' /s', 0)} (p99 {fmt(rs_p99, ' ms')}, {fmt(resumed, '', 0)} resumed per run)",
                    verdict(None if hs_rps is None else hs_rps >= 2000),
                    "" if hs_rps is None else
                    f"{vs_nginx('handshake')}; resumed: {vs_nginx('resumed')}; errors in all storms: {errs:.0f}"))

    # ---- concurrency
    cw, c1 = f.med("conc_wall", "pullthrough"), f.med("conc_one_wall", "pullthrough")
    dw, d1 = f.med("conc_wall", "direct"), f.med("conc_one_wall", "direct")
    mx = f.max("conc_upstream_max_gets_per_blob", "pullthrough")
    n_clients = meta.get("settings", "").split("conc=")[-1].split(" ")[0] if "conc=" in meta.get("settings", "") else "?"
    targets.append((f"{n_clients} concurrent cold clients: each blob fetched upstream once",
                    f"max upstream GETs per blob {fmt(mx, '', 0)}; upstream bytes {fmt(f.med('conc_upstream_bytes', 'pullthrough') and f.med('conc_upstream_bytes', 'pullthrough') / 1e6, ' MB', 1)} "
                    f"(image {meta.get('image_many', '')})",
                    verdict(None if mx is None else mx == 1), ""))
    r = ratio(cw, c1)
    targets.append((f"{n_clients} concurrent cold clients: wall <= 1.5x one client",
                    f"{fmt(cw)} s / {fmt(c1)} s = {fmt(r)}x (no proxy, same clients: {fmt(dw)} s / {fmt(d1)} s = "
                    f"{fmt(ratio(dw, d1))}x)",
                    verdict(None if r is None else r <= 1.5), ""))

    # ---- resources
    idle = f.med("idle_rss_kb", "pullthrough")
    opened = f.med("idle_conns_open", "pullthrough")
    targets.append(("RSS < 100 MB at 1,000 idle connections",
                    f"{fmt(idle and idle / 1024, ' MiB', 1)} with {fmt(opened, '', 0)} idle CONNECT+TLS connections "
                    f"(before: {fmt(f.med('idle_before_rss_kb', 'pullthrough') and f.med('idle_before_rss_kb', 'pullthrough') / 1024, ' MiB', 1)}; "
                    f"failed: {fmt(f.med('idle_conns_failed', 'pullthrough'), '', 0)})",
                    verdict(None if idle is None else idle < 100 * 1024 and (opened or 0) >= 1000), ""))
    mlo, mhi = f.min("stream_miss_rss_min_kb", "pullthrough"), f.max("stream_miss_rss_max_kb", "pullthrough")
    hlo, hhi = f.min("stream_hit_rss_min_kb", "pullthrough"), f.max("stream_hit_rss_max_kb", "pullthrough")
    flat = None if mlo is None else (mhi - mlo) < 32 * 1024 and (hhi - hlo) < 32 * 1024
    targets.append(("RSS flat while streaming the large blob (growth < 32 MiB)",
                    f"MISS {fmt(mlo and mlo / 1024, '', 1)}-{fmt(mhi and mhi / 1024, ' MiB', 1)}, "
                    f"HIT {fmt(hlo and hlo / 1024, '', 1)}-{fmt(hhi and hhi / 1024, ' MiB', 1)} "
                    f"(blob {meta.get('settings', '').split('stream=')[-1].split(' ')[0]})",
                    verdict(flat), ""))

    # ---- S3 blob store (section 8)
    sb, sl, sr = (f.med("s3_hit_Bps", s) for s in ("from-bucket", "local-disk", "rgw-direct"))
    fw, fs = f.med("s3_fill_Bps", "pullthrough"), f.med("s3_fill_Bps", "pullthrough-s3")
    up_failed = sum(f.all("s3_upload_failed", "pullthrough-s3"))
    mb = lambda v: fmt(v and v / 1e6, " MB/s", 0)  # noqa: E731
    if sb is not None or "s3" in meta:
        r = ratio(sb, sr)
        targets.append(("S3: hit from the bucket (empty local disk) >= 80% of RGW read directly",
                        f"from the bucket {mb(sb)} / RGW direct {mb(sr)} = {fmt(r and r * 100, '%', 0)} "
                        f"(local-disk hit of the same blob: {mb(sl)})",
                        verdict(None if r is None else r >= 0.8), meta.get("s3", "")))
        r = ratio(fs, fw)
        targets.append(("S3: cold fill with BLOB_STORE >= 90% of the fill without",
                        f"with {mb(fs)} / without {mb(fw)} = {fmt(r and r * 100, '%', 0)}; upload done "
                        f"{fmt(f.med('s3_upload_after_fill_s', 'pullthrough-s3'), ' s')} after the fill; "
                        f"uploads failed: {up_failed:.0f} of {len(f.all('s3_fill_Bps', 'pullthrough-s3'))}",
                        verdict(None if r is None else r >= 0.9 and up_failed == 0),
                        "a large blob streams into a multipart upload during the fill (2 shared cores: the upload takes CPU from the fill), completed once verified; a failed upload fails the target"))

    w("## Targets\n")
    w("| target | measured | verdict | note |")
    w("| --- | --- | --- | --- |")
    for t in targets:
        w("| " + " | ".join(t) + " |")
    w("")

    w("## 3. Large blob over CONNECT+TLS with curl (MB/s, median)\n")
    w("| pullthrough HIT | nginx TLS (same file) | registry direct | pullthrough MISS (fill) |")
    w("| --- | --- | --- | --- |")
    w(f"| {fmt(hp and hp / 1e6, '', 0)} | {fmt(hn and hn / 1e6, '', 0)} | {fmt(hd and hd / 1e6, '', 0)} | "
      f"{fmt(f.med('stream_miss_Bps', 'pullthrough') and f.med('stream_miss_Bps', 'pullthrough') / 1e6, '', 0)} |\n")

    if sb is not None:
        w("## 8. BLOB_STORE on Ceph RGW: a large blob (MB/s, median)\n")
        w(f"{meta.get('s3', '')}\n")
        w("| from the bucket (empty disk) | local-disk hit | RGW direct (curl) | cold fill without BLOB_STORE | "
          "cold fill with BLOB_STORE | upload done after the fill (s) |")
        w("| --- | --- | --- | --- | --- | --- |")
        w(f"| {fmt(sb and sb / 1e6, '', 0)} | {fmt(sl and sl / 1e6, '', 0)} | {fmt(sr and sr / 1e6, '', 0)} | "
          f"{fmt(fw and fw / 1e6, '', 0)} | {fmt(fs and fs / 1e6, '', 0)} | "
          f"{fmt(f.med('s3_upload_after_fill_s', 'pullthrough-s3'))} ({up_failed:.0f} failed) |\n")

    w("## 4. Manifest HEAD storm (cached tag manifest, pt_loadgen)\n")
    w("The baseline is nginx (2 workers) serving the same manifest over TLS with an EC P-256 certificate, "
      "logging every request, reached by the same load generator without the CONNECT.\n")
    w("| mode | server | req/s | p99 ms | server CPU (cores) | server CPU per request (µs) | load generator CPU (cores) |")
    w("| --- | --- | --- | --- | --- | --- | --- |")
    for n, label in (("keepalive", "keep-alive"), ("handshake", "new connection, full handshake"),
                     ("resumed", "new connection, resumption offered")):
        for system in ("pullthrough", "nginx"):
            if f.med(f"storm_{n}_rps", system) is None:
                continue
            w(f"| {label} | {system} | {fmt(f.med(f'storm_{n}_rps', system), '', 0)} | "
              f"{fmt(f.med(f'storm_{n}_p99_ms', system))} | {fmt(f.med(f'storm_{n}_cpu_util', system))} | "
              f"{fmt(cpu_per_request_us(n, system), '', 0)} | {fmt(f.med(f'storm_{n}_client_cpu_util', system))} |")
    w("")

    w("## 6. Proxy resources\n")
    w("| phase | pullthrough | squid |")
    w("| --- | --- | --- |")
    for img in ("big", "many"):
        w(f"| CPU s per warm pull ({img}) | {fmt(f.med(f'warm_cpu_s_{img}', 'pullthrough'))} | "
          f"{fmt(f.med(f'warm_cpu_s_{img}', 'squid'))} |")
    w(f"| peak RSS during warm pulls | {fmt(f.max('warm_hwm_kb', 'pullthrough') and f.max('warm_hwm_kb', 'pullthrough') / 1024, ' MiB', 1)} | "
      f"{fmt(f.max('warm_hwm_kb', 'squid') and f.max('warm_hwm_kb', 'squid') / 1024, ' MiB', 1)} |")
    w(f"| peak RSS during HEAD storms | {fmt(f.max('storm_hwm_kb', 'pullthrough') and f.max('storm_hwm_kb', 'pullthrough') / 1024, ' MiB', 1)} | |")
    w(f"| CPU s / peak RSS, {n_clients} concurrent cold clients | {fmt(f.med('conc_cpu_s', 'pullthrough'))} s / "
      f"{fmt(f.max('conc_hwm_kb', 'pullthrough') and f.max('conc_hwm_kb', 'pullthrough') / 1024, ' MiB', 1)} | |")
    w(f"| RSS with {fmt(opened, '', 0)} idle connections | {fmt(idle and idle / 1024, ' MiB', 1)} | |")
    w("")
    w(f"Sanity: pullthrough logged {fmt(f.max('check_pt_hits', 'pullthrough'), '', 0)} cache=HIT requests in its last "
      f"pull run; squid logged {fmt(f.max('check_squid_hits', 'squid'), '', 0)} TCP_HIT/TCP_MEM_HIT in all.\n")

    text = "\n".join(out)
    (d / "results.md").write_text(text)
    print(text)

    if not any(f.all(f"{g}_{img}", s) for g in ("cold", "warm") for img in ("big", "many") for s in systems):
        return  # the pulls were not measured in this run (BENCH_ONLY)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(no matplotlib: no chart; bench/setup.sh installs python3-matplotlib)")
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, img in zip(axes, ("big", "many")):
        groups = ("cold", "warm")
        width = 0.8 / max(1, len(systems))
        for i, s in enumerate(systems):
            vals = [f.med(f"{g}_{img}", s) or 0 for g in groups]
            bars = ax.bar([x + i * width for x in range(len(groups))], vals, width, label=s)
            ax.bar_label(bars, fmt="%.2f", fontsize=8)
        ax.set_xticks([x + width * (len(systems) - 1) / 2 for x in range(len(groups))], groups)
        ax.set_ylabel("seconds (median)")
        ax.set_title(f"skopeo pull, {img}: {meta.get('image_' + img, '')}")
        ax.set_ylim(top=ax.get_ylim()[1] * 1.2)  # room for the legend above the bars
        ax.legend(ncol=len(systems), loc="upper center", fontsize=8)
    fig.suptitle(f"pullthrough benchmark {meta.get('date', '')} (shared, noisy 2-core machine)")
    fig.tight_layout()
    fig.savefig(d / "pulls.png", dpi=90)


if __name__ == "__main__":
    main()
