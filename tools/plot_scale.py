#!/usr/bin/env python3
"""Plots the scale benches' CSV output (issue 22) as SVG, with no dependency but Python 3.

Reads (from the first argument, default `target/scale`):
  users.csv         stores/benches/scale_users.rs: one row per store and size
  users_reload.csv  the same bench: lookups before and during a reload
  users_floor.csv   the same bench: a bare HashMap's lookups at each size (optional)
  waiting.csv       authenticator/benches/waiting_handshakes.rs: one row per N waiting
  remote.csv        stores/benches/scale_remote.rs: one row per store (Redis, PostgreSQL) and size
and writes into the second argument (default `docs/bench`):
  users_memory.svg        heap bytes per user vs users, per store (goal 512 B)
  users_lookup_p99.svg    lookup p99 vs users, per store, and the bare-HashMap floor (log y)
  waiting_login_p99.svg   a legitimate login's p99 vs handshakes waiting (goal 10 ms)
  waiting_bytes.svg       bytes per waiting handshake vs handshakes waiting (goal 1 KiB)
  remote_lookup.svg       lookup p50/p99 vs users: Redis, PostgreSQL, the memory store (log y)
  remote_memory.svg       server bytes per user vs users: Redis, PostgreSQL, the memory store

    python3 tools/plot_scale.py                       # target/scale -> docs/bench
    python3 tools/plot_scale.py docs/bench/data docs/bench

Plain SVG written by hand: log-scale x axis (decades), linear or log y axis.
"""

import csv
import math
import os
import sys
from xml.sax.saxutils import escape

W, H = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 78, 170, 40, 56
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def read(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def nice_ticks(lo, hi, count=5):
    """Round tick values covering [lo, hi] on a linear axis."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 0.001:
        ticks.append(round(t, 10))
        t += step
    return ticks


def fmt(v):
    if v >= 1e6 and v % 1e6 == 0:
        return f"{v / 1e6:g}M"
    if v >= 1e3 and v % 1e3 == 0:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def plot(path, title, xlabel, ylabel, series, log_y=False, goal=None, y_unit=""):
    """series: [(label, [(x, y), ...], dashed[, color index])]; x > 0 (log axis)."""
    points = [p for s in series for p in s[1] if p[0] > 0 and p[1] > 0]
    if not points:
        print(f"skip {path}: no data")
        return
    xs = [p[0] for p in points]
    ys = [p[1] for p in points] + ([goal[0]] if goal else [])
    x0, x1 = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    if x1 == x0:
        x1 += 1
    if log_y:
        y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
        if y1 == y0:
            y1 += 1
        yticks = [10**e for e in range(y0, y1 + 1)]
        ymap = lambda y: (math.log10(y) - y0) / (y1 - y0)
    else:
        yticks = nice_ticks(0, max(ys) * 1.08)
        ymap = lambda y: y / yticks[-1]
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    px = lambda x: LEFT + (math.log10(x) - x0) / (x1 - x0) * pw
    py = lambda y: TOP + ph - ymap(y) * ph
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    for e in range(x0, x1 + 1):
        x = px(10**e)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + ph}" stroke="#ddd"/>')
        out.append(
            f'<text x="{x:.1f}" y="{TOP + ph + 16}" text-anchor="middle">{fmt(10**e)}</text>'
        )
    for t in yticks:
        y = py(t) if t > 0 or not log_y else None
        if y is None:
            continue
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt(t)}{y_unit}</text>')
    out.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#444"/>'
    )
    out.append(
        f'<text x="{LEFT + pw / 2}" y="{H - 14}" text-anchor="middle">{escape(xlabel)}</text>'
    )
    out.append(
        f'<text transform="translate(16 {TOP + ph / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(ylabel)}</text>'
    )
    legend_y = TOP + 10
    if goal:
        value, label = goal
        y = py(value)
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + pw}" y2="{y:.1f}" '
            f'stroke="#000" stroke-dasharray="2 4"/>'
        )
        out.append(f'<text x="{LEFT + pw + 8}" y="{y + 4:.1f}">{escape(label)}</text>')
    for i, (label, pts, dashed, *color_index) in enumerate(series):
        pts = sorted(p for p in pts if p[0] > 0 and p[1] > 0)
        if not pts:
            continue
        color = COLORS[(color_index[0] if color_index else i) % len(COLORS)]
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        out.append(
            f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"{dash}/>'
        )
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{color}"/>')
        out.append(
            f'<line x1="{LEFT + pw + 8}" y1="{legend_y + 30}" x2="{LEFT + pw + 28}" '
            f'y2="{legend_y + 30}" stroke="{color}" stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{LEFT + pw + 32}" y="{legend_y + 34}">{escape(label)}</text>')
        legend_y += 18
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {path}")


def column(rows, x, y, scale=1.0, where=None):
    return [
        (float(r[x]), float(r[y]) * scale)
        for r in rows
        if where is None or where(r)
    ]


def floor_series(src):
    """The bare-HashMap floor of `users_floor.csv` (dashed), when the bench wrote it."""
    path = os.path.join(src, "users_floor.csv")
    if not os.path.exists(path):
        return []
    return [("floor: bare HashMap", column(read(path), "users", "p99_ns"), True)]


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "target/scale"
    dst = sys.argv[2] if len(sys.argv) > 2 else "docs/bench"
    os.makedirs(dst, exist_ok=True)
    users = read(os.path.join(src, "users.csv"))
    stores = sorted({r["store"] for r in users})
    names = {"memory": "memory store", "file_json": "file (JSON)", "file_csv": "file (CSV)"}
    plot(
        os.path.join(dst, "users_memory.svg"),
        "Memory per SHA-256 user (heap; dashed: RSS)",
        "users",
        "bytes per user",
        [
            (names.get(s, s) + " heap", column(users, "users", "heap_per_user", where=lambda r, s=s: r["store"] == s), False)
            for s in stores
        ]
        + [
            ("memory store RSS", column(users, "users", "rss_per_user", where=lambda r: r["store"] == "memory"), True)
        ],
        goal=(512, "goal 512 B"),
    )
    plot(
        os.path.join(dst, "users_lookup_p99.svg"),
        "Lookup latency p99 (one thread, random users)",
        "users",
        "p99 (ns)",
        [
            (names.get(s, s), column(users, "users", "p99_ns", where=lambda r, s=s: r["store"] == s), False)
            for s in stores
        ]
        + floor_series(src),
        log_y=True,
        y_unit="",
    )
    waiting = read(os.path.join(src, "waiting.csv"))
    plot(
        os.path.join(dst, "waiting_login_p99.svg"),
        "Legitimate login p99 while N handshakes wait",
        "handshakes waiting",
        "login latency (µs, log)",
        [
            ("p99 while waiting", column(waiting, "waiting", "login_p99_ns", 1e-3), False),
            ("p99 while they expire", column(waiting, "waiting", "expiring_login_p99_ns", 1e-3), True),
            ("p50 while waiting", column(waiting, "waiting", "login_p50_ns", 1e-3), False),
        ],
        log_y=True,
        goal=(10_000, "goal 10 ms"),
    )
    plot(
        os.path.join(dst, "waiting_bytes.svg"),
        "Memory per waiting handshake",
        "handshakes waiting",
        "bytes per handshake",
        [
            ("heap, with task + timer", column(waiting, "waiting", "heap_per_handshake"), False),
            ("RSS, with task + timer", column(waiting, "waiting", "rss_per_handshake"), True),
            ("ConnectionAuth alone", column(waiting, "waiting", "bare_heap_per_handshake"), False),
        ],
        goal=(1024, "goal 1 KiB"),
    )

    remote = read(os.path.join(src, "remote.csv"))
    remote_names = {"redis": "Redis", "postgres": "PostgreSQL"}
    remote_stores = [s for s in ("redis", "postgres") if any(r["store"] == s for r in remote)]
    mem = lambda r: r["store"] == "memory"
    plot(
        os.path.join(dst, "remote_lookup.svg"),
        "Lookup latency, one at a time (solid p99, dashed p50)",
        "users",
        "latency (µs, log)",
        [
            (remote_names[s] + " p99", column(remote, "users", "p99_ns", 1e-3, where=lambda r, s=s: r["store"] == s), False, c)
            for c, s in enumerate(remote_stores)
        ]
        + [("memory store p99", column(users, "users", "p99_ns", 1e-3, where=mem), False, 2)]
        + [
            (remote_names[s] + " p50", column(remote, "users", "p50_ns", 1e-3, where=lambda r, s=s: r["store"] == s), True, c)
            for c, s in enumerate(remote_stores)
        ]
        + [("memory store p50", column(users, "users", "p50_ns", 1e-3, where=mem), True, 2)],
        log_y=True,
    )
    plot(
        os.path.join(dst, "remote_memory.svg"),
        "Server memory per SHA-256 user",
        "users",
        "bytes per user",
        [
            (
                {"redis": "Redis used_memory", "postgres": "PostgreSQL table+index"}[s],
                column(remote, "users", "server_bytes_per_user", where=lambda r, s=s: r["store"] == s),
                False,
            )
            for s in remote_stores
        ]
        + [("memory store heap", column(users, "users", "heap_per_user", where=mem), True)],
    )


if __name__ == "__main__":
    main()
