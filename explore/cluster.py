"""The Dask cluster a sweep runs on: a LocalCluster on this machine, or an existing scheduler.

Trials with a bitstream stage ask for one unit of the worker resource `bitstream`, so a worker
runs at most as many bitstream trials at once as it offers (nextpnr is memory-hungry), while
its other threads go on with trials that only train and simulate. The LocalCluster's workers
offer `bitstreams_per_worker`; workers of an existing cluster must be started with
`--resources bitstream=N` to take such trials (checked before anything is submitted).
"""

from __future__ import annotations

import logging
import os

from hw.errors import UserError

RESOURCE = "bitstream"


def local_client(workers: int | None, threads: int, bitstreams: int):
    from dask.distributed import Client, LocalCluster

    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=threads, processes=True,
                           resources={RESOURCE: bitstreams}, dashboard_address=None,
                           silence_logs=logging.ERROR)
    return Client(cluster), f"a LocalCluster of {n} workers x {threads} thread(s)"


def remote_client(address: str, timeout_s: float = 20):
    from dask.distributed import Client

    try:
        client = Client(address, timeout=timeout_s)
    except (OSError, TimeoutError, ValueError) as e:
        raise UserError(f"--scheduler {address}: cannot reach a Dask scheduler there "
                        f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
                        ) from None
    try:
        client.wait_for_workers(1, timeout=timeout_s)
    except (TimeoutError, OSError):
        client.close()
        raise UserError(f"--scheduler {address}: no worker joined within {timeout_s:g} s "
                        f"(start one: dask worker {address})") from None
    n = len(client.scheduler_info()["workers"])
    return client, f"the Dask scheduler at {address} ({n} workers now)"


def check_resources(client, needs_bitstream: bool, address: str) -> None:
    if not needs_bitstream:
        return
    workers = client.scheduler_info()["workers"].values()
    if not any(w.get("resources", {}).get(RESOURCE, 0) >= 1 for w in workers):
        raise UserError(f"no worker of {address} offers the '{RESOURCE}' resource that "
                        f"bitstream trials need; start workers with --resources {RESOURCE}=1")
