"""Several replicas of the bot (real `python -m bot` processes) on one database, behind the
round-robin balancer, in webhook mode: for the multi-replica test and benchmark."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.balancer import RoundRobin
from tests.fakes.evolink import FakeEvolink
from tests.fakes.telegram import FakeTelegram
from tests.harness import BotProcess


class Cluster:
    """The replicas, the balancer in front of them, and the fakes they talk to."""

    def __init__(
        self,
        telegram: FakeTelegram,
        evolink: FakeEvolink,
        root: Path,
        database_url: str,
        *,
        replicas: int = 3,
        **env: str,
    ) -> None:
        self.telegram, self.evolink = telegram, evolink
        self.replicas = [
            BotProcess(telegram, evolink, root / f"replica{n}" / "data") for n in range(replicas)
        ]
        self.balancer = RoundRobin([f"http://127.0.0.1:{r.port}" for r in self.replicas])
        self.database_url = database_url
        self.env = env

    async def start(self) -> None:
        """Start the balancer, then every replica; return once each serves."""
        public = await self.balancer.start()
        for replica in self.replicas:
            replica.env |= {
                "DATABASE_URL": self.database_url,
                "REPLICAS": str(len(self.replicas)),
                "TELEGRAM_WEBHOOK_URL": f"{public}/telegram",
                "PUBLIC_BASE_URL": public,
                **self.env,
            }
        await asyncio.gather(*(r.start() for r in self.replicas))
        async with httpx.AsyncClient(trust_env=False) as http:
            for replica in self.replicas:  # every one serves (the first setWebhook wakes all)
                deadline = time.monotonic() + 30
                while True:
                    try:
                        if (await http.get(f"http://127.0.0.1:{replica.port}/healthz")).is_success:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"a replica did not serve:\n{replica.log[-3000:]}")
                    await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """SIGTERM every replica still running, then stop the balancer."""
        for replica in self.replicas:
            if replica.process is not None and replica.process.returncode is None:
                await replica.terminate()
        await self.balancer.stop()

    def holder_of(self, update_id: int) -> BotProcess:
        """The replica the balancer gave this update to."""
        backend = self.balancer.updates[update_id]
        return next(r for r in self.replicas if backend.endswith(f":{r.port}"))
