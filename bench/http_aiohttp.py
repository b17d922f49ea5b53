"""The HTTP benchmark's Python peer (bench/http.sh): aiohttp with a semaphore, the way Python
users cap concurrency. GETs every URL of a file (one per line), at most LIMIT at a time,
reads each body, and prints one key=value line.

    /usr/bin/python3 bench/http_aiohttp.py URLS_FILE LIMIT
"""
import asyncio
import sys
import time

import aiohttp


async def main(path: str, limit: int) -> None:
    urls = [line.strip() for line in open(path) if line.strip()]
    sem = asyncio.Semaphore(limit)
    ok = 0

    async def fetch(session: aiohttp.ClientSession, url: str) -> None:
        nonlocal ok
        async with sem:
            async with session.get(url) as r:
                await r.read()
                ok += r.status == 200

    t0 = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=limit)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(fetch(session, u) for u in urls))
    secs = time.perf_counter() - t0
    if ok != len(urls):
        sys.exit(f"http_aiohttp: {len(urls) - ok} of {len(urls)} requests failed")
    print(f"tool=aiohttp requests={len(urls)} limit={limit} wall_s={secs:.3f} "
          f"req_per_s={len(urls) / secs:.0f}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
