"""The Python side of the JSON Lines workloads, as the seed (abstractions) does them.

    storage_peers.py resume_scan FILE      json.loads every line, count rows per "id"
    storage_peers.py append N BYTES MODE   json.dumps + write + flush per row (MODE default),
                                           or + os.fsync per row (MODE each_row)

Prints one key=value line in sluice_bench's format.
"""
import json
import os
import sys
import tempfile
import time


def resume_scan(path):
    size = os.path.getsize(path)
    t0 = time.perf_counter()
    counts = {}
    with open(path) as f:
        for line in f:
            k = json.loads(line)["id"]
            counts[k] = counts.get(k, 0) + 1
    dt = time.perf_counter() - t0
    print(f"peer=python-json.loads workload=resume_scan n={sum(counts.values())} bytes={size} "
          f"wall_ms={dt * 1e3:.1f} mb_per_s={size / 1e6 / dt:.1f}")


def append(n, nbytes, mode):
    rows = []
    for i in range(100):
        r = {"id": f"key-{i:09d}", "n": i, "ok": i % 7 != 0, "text": ""}
        base = len(json.dumps(r, separators=(",", ":"))) + 1
        r["text"] = chr(ord("a") + i % 26) * max(0, nbytes - base)
        rows.append(r)
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    t0 = time.perf_counter()
    with open(path, "at") as f:
        for i in range(n):
            json.dump(rows[i % 100], f)
            f.write("\n")
            f.flush()
            if mode == "each_row":
                os.fsync(f.fileno())
    dt = time.perf_counter() - t0
    os.remove(path)
    print(f"peer=python-{mode} workload=append n={n} bytes={nbytes} wall_ms={dt * 1e3:.1f} "
          f"rows_per_s={n / dt:.0f} us_per_row={dt * 1e6 / n:.2f}")


if __name__ == "__main__":
    if sys.argv[1] == "resume_scan":
        resume_scan(sys.argv[2])
    else:
        append(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
