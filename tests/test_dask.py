"""Scale-out: ``prove(..., executor=client.get_executor())`` on a real Dask LocalCluster."""

import pytest
from helpers import dev_policy, photo_tile

import zkimg

distributed = pytest.importorskip("distributed")

IMG = photo_tile("coffee", 40, 60, 16, 40)  # three 16-px tiles wide
PIPE = zkimg.Pipeline([zkimg.Flip()])


def test_prove_on_a_local_dask_cluster(store):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        cam = zkimg.Camera.generate()
        shot = cam.capture(IMG, tile=16)
        workers = set(client.scheduler_info()["workers"])
        assert len(workers) == 2
        with distributed.get_task_stream(client) as ts:
            att = zkimg.prove(shot, PIPE, store=store, executor=client.get_executor())
        ran = [t for t in ts.data if t["key"] and "_prove_job" in str(t["key"])]
        assert len(ran) == len(att.proofs) >= 3  # every tile proof was a task on the cluster
        assert {t["worker"] for t in ran} <= workers
    res = zkimg.verify(att, PIPE.apply(IMG), policy=dev_policy([cam.public_key]), store=store)
    assert res.tiles == len(att.proofs)
