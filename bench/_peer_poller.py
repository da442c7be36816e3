"""A bare peer for bench.latency: ``python -m bench._peer_poller``.

What a simple single-file Seedance bot does to follow its tasks: every task is queried every
PEER_INTERVAL seconds (5), each from a random moment of the first interval, and once it reads
completed its video URL goes to the chat in one sendVideo. Reads the tasks from the JSON file
PEER_TASKS (a list of {"task": upstream id, "chat": chat id}), talks to EVOLINK_BASE_URL with
EVOLINK_API_KEY and to TELEGRAM_API_BASE_URL with TELEGRAM_BOT_TOKEN. Stops when every task was
sent, or on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
from pathlib import Path

import httpx


async def follow(
    http: httpx.AsyncClient, task: str, chat: int, interval: float, api: str, key: str
) -> None:
    """Query the task every `interval` seconds until it is completed, then send its video."""
    await asyncio.sleep(random.uniform(0, interval))
    headers = {"Authorization": f"Bearer {key}"}
    while True:
        answer = (await http.get(f"{api}/v1/tasks/{task}", headers=headers)).json()
        if answer.get("status") == "completed":
            break
        await asyncio.sleep(interval)
    url = answer["results"][0]
    bot_api = os.environ["TELEGRAM_API_BASE_URL"] + os.environ["TELEGRAM_BOT_TOKEN"]
    await http.post(f"{bot_api}/sendVideo", json={"chat_id": chat, "video": url})


async def main() -> None:
    """Follow every task; stop when all are sent, or on SIGTERM."""
    tasks = json.loads(Path(os.environ["PEER_TASKS"]).read_text())
    interval = float(os.environ.get("PEER_INTERVAL", "5"))
    api, key = os.environ["EVOLINK_BASE_URL"].rstrip("/"), os.environ["EVOLINK_API_KEY"]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with httpx.AsyncClient(timeout=30) as http:
        work = asyncio.gather(
            *(follow(http, t["task"], t["chat"], interval, api, key) for t in tasks)
        )
        halt = asyncio.ensure_future(stop.wait())
        await asyncio.wait({work, halt}, return_when=asyncio.FIRST_COMPLETED)
        work.cancel()
        halt.cancel()
        await asyncio.gather(work, halt, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main())
