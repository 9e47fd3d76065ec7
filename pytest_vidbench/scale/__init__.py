"""Scale-out: pytest-xdist workers (workers.py), their hand-over to the controller
(handover.py), and shards of one suite over several machines (shard.py)."""
