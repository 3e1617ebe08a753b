"""fastrle.jobs on a cluster started the way users start one: a `dask scheduler`
and two `dask worker` processes on 127.0.0.1 (random free ports), run as
separate processes and always stopped at the end.

- the CLI's ``--scheduler`` gives the same parts, byte for byte, as a clean
  run of the same tasks in this process;
- killing a worker process while it holds a task loses nothing: Dask reruns
  the task and the output is byte-identical to the clean run.

To kill a worker *while* it works on a task, one source is a named pipe: its
task blocks reading it until the test writes the JSON, so the test knows
which worker holds that task (from /proc) and kills it there.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")
pytest.importorskip("pycocotools")
if not sys.platform.startswith("linux"):
    pytest.skip("the worker-kill test finds the worker through /proc", allow_module_level=True)

from _jobs_data import image, make_dataset, shard_members, write_tar

from fastrle import jobs
from fastrle.jobs import part_name

TIMEOUT = 120  # seconds for any one wait: start-up, a job, a pipe


def _wait(cond, what: str, timeout: float = TIMEOUT, step: float = 0.05):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = cond()
        if v:
            return v
        time.sleep(step)
    raise TimeoutError(f"waited {timeout} s for {what}")


def _dask(sub: str, *args: str) -> list:
    # what the `dask scheduler` / `dask worker` commands run, with this Python
    return [sys.executable, "-m", f"distributed.cli.dask_{sub}", *args]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(client, {worker pid: Popen}) of a scheduler and two workers in separate processes."""
    from distributed import Client

    d = tmp_path_factory.mktemp("dask_cluster")
    sched_file = str(d / "scheduler.json")
    procs = []
    logs = []

    def spawn(cmd, name):
        log = open(d / f"{name}.log", "wb")
        logs.append(log)
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=str(d)))
        return procs[-1]

    try:
        spawn(_dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--dashboard-address", "127.0.0.1:0",
                    "--scheduler-file", sched_file), "scheduler")
        addr = _wait(lambda: os.path.exists(sched_file) and json.load(open(sched_file)).get("address"),
                     "the scheduler file")
        for k in range(2):
            spawn(_dask("worker", "--scheduler-file", sched_file, "--host", "127.0.0.1",
                        "--nthreads", "1", "--no-nanny", "--no-dashboard", "--death-timeout", "60",
                        "--name", f"w{k}"), f"worker{k}")
        with Client(addr, timeout=TIMEOUT) as client:
            client.wait_for_workers(2, timeout=TIMEOUT)
            pids = set(client.run(os.getpid).values())
            workers = {p.pid: p for p in procs[1:]}
            assert pids == set(workers)
            yield client, workers
    finally:
        for p in reversed(procs):  # only the processes started here, by their ids
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=20)
        for log in logs:
            log.close()


def _parts(out: str) -> dict:
    """Every part and problem file, name -> bytes."""
    got = {}
    for sub in ("", "_errors"):
        dd = os.path.join(out, sub)
        for n in sorted(os.listdir(dd)) if os.path.isdir(dd) else []:
            if n.startswith("part-"):
                with open(os.path.join(dd, n), "rb") as f:
                    got[os.path.join(sub, n)] = f.read()
    return got


def _clean_run(sources, out, features=False):
    """The reference: the same tasks one after another, no Dask, in a fresh
    process (which also keeps this process's heap as the other tests expect)."""
    code = ("import sys, json\nfrom fastrle.jobs import expand_sources, index_source\n"
            "for s in expand_sources(json.loads(sys.argv[1])):\n"
            "    index_source(s, sys.argv[2], features=sys.argv[3] == '1')\n")
    subprocess.run([sys.executable, "-c", code, json.dumps(sources), out, "1" if features else "0"],
                   check=True, timeout=TIMEOUT)
    return _parts(out)


def test_cli_with_scheduler_matches_a_clean_run(cluster, tmp_path):
    client, _ = cluster
    ds = make_dataset(str(tmp_path / "ds"), shards=2)
    addr = client.scheduler_info()["address"]
    srcs = ds["sources"][:-1]  # the missing file would exit 1
    out = str(tmp_path / "idx")
    p = subprocess.run([sys.executable, "-m", "fastrle", "index", *srcs, "-o", out, "--scheduler", addr,
                        "--features"], capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "workers: 2" in p.stdout
    ref = _clean_run(srcs, str(tmp_path / "ref"), features=True)
    assert _parts(out) == ref and len(ref) > 10
    rep = str(tmp_path / "rep.parquet")
    p = subprocess.run([sys.executable, "-m", "fastrle", "validate", *ds["sources"], "--scheduler", addr,
                        "--report", rep], capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 1, p.stdout + p.stderr
    import pyarrow.parquet as pq
    from _jobs_data import problem_set

    assert problem_set(pq.read_table(rep)) == ds["planted"]
    p = subprocess.run([sys.executable, "-m", "fastrle", "validate", ds["sources"][0], "--scheduler", addr],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stdout + p.stderr


def _feed(fifo: str, data: bytes) -> threading.Thread:
    """Write ``data`` into the pipe once a reader opens it (in a thread)."""
    def run():
        with open(fifo, "wb") as f:
            f.write(data)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _holder(fifo: str, pids) -> int:
    """The worker pid that has ``fifo`` open, or 0."""
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == fifo:
                        return pid
    return 0


def test_killing_a_worker_mid_run_loses_nothing(cluster, tmp_path):
    """Runs last: it leaves the cluster with one worker."""
    client, workers = cluster
    root = tmp_path / "ds"
    root.mkdir()
    srcs = []
    for s in range(6):
        path = str(root / f"sa_{s:06d}.tar")
        write_tar(path, shard_members([image(10 * s + k, 12, seed=40 + 10 * s + k) for k in range(4)]))
        srcs.append(path)
    gate = str(root / "sa_gate.json")
    os.mkfifo(gate)
    payload = json.dumps(image(999, 12, seed=7)).encode()
    assert len(payload) < 65536  # fits the pipe buffer: one non-blocking write sends it all
    srcs.insert(3, gate)

    # the clean run
    feeder = _feed(gate, payload)
    ref = _clean_run(srcs, str(tmp_path / "ref"), features=True)
    feeder.join(TIMEOUT)
    assert not feeder.is_alive() and len(ref) == len(srcs)

    out = str(tmp_path / "idx")
    result = {}

    def job():
        try:
            result["summary"] = jobs.index(srcs, out, client=client, features=True)
        except BaseException as e:  # reported by the assertion below
            result["error"] = e

    runner = threading.Thread(target=job, daemon=True)
    runner.start()
    # The gate's task opens the pipe for reading; opening it for writing
    # without blocking succeeds only then. Our write end, open and silent,
    # keeps that task waiting until we write.
    (wfd,) = _wait(lambda: _try_open_writer(gate), "a worker to open the pipe")
    try:
        victim = _wait(lambda: _holder(gate, workers), "the worker holding the pipe")
        done_before = len(_parts(out))
        os.kill(victim, signal.SIGKILL)
        workers[victim].wait(TIMEOUT)  # gone for good: it can read nothing more
        # Dask reruns the gate's task on the other worker: feed it there.
        _wait(lambda: _holder(gate, [p for p in workers if p != victim]),
              "the other worker to rerun the task")
        os.write(wfd, payload)
    finally:
        os.close(wfd)
    assert done_before < len(srcs)  # the job was mid-run: the gate's part cannot exist yet
    runner.join(TIMEOUT)
    assert not runner.is_alive(), "the job did not finish after a worker died"
    assert "error" not in result, result.get("error")
    s = result["summary"]
    assert s.written == len(srcs) and s.unreadable == 0 and not s.problems
    assert _parts(out) == ref
    assert jobs.read_index(out).equals(jobs.read_index(str(tmp_path / "ref")))
    assert part_name(gate) in {os.path.basename(k) for k in ref}
    live = client.run(os.getpid)
    assert victim not in live.values() and len(live) == 1


def _try_open_writer(fifo: str):
    try:
        return (os.open(fifo, os.O_WRONLY | os.O_NONBLOCK),)
    except OSError:  # ENXIO: nobody is reading yet
        return None
