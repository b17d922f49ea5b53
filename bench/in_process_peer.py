"""The in_process workload's Python peers: aioextensions' in_process is run_in_executor on a
ProcessPoolExecutor; in_thread the same on a ThreadPoolExecutor. N calls of a function adding
one, LIMIT awaiting at once, as sluice_bench in_process does.

    python3 bench/in_process_peer.py N LIMIT process|thread
"""
import asyncio
import concurrent.futures
import sys
import time


def add_one(i):
    return i + 1


async def main(n, limit, kind):
    pool = (concurrent.futures.ProcessPoolExecutor if kind == "process" else
            concurrent.futures.ThreadPoolExecutor)(max_workers=limit)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(pool, add_one, 0)  # (workers started before the clock)
    sem = asyncio.Semaphore(limit)
    ok = 0

    async def call(i):
        nonlocal ok
        async with sem:
            got = await loop.run_in_executor(pool, add_one, i)
            ok += got == i + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(call(i) for i in range(n)))
    wall = time.perf_counter() - t0
    pool.shutdown()
    assert ok == n
    print(f"peer=python-{kind}pool workload=in_process n={n} limit={limit} "
          f"wall_ms={wall * 1e3:.1f} us_per_call={wall * 1e6 / n:.2f} ns_per_call={wall * 1e9 / n:.0f}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
