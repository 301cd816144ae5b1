#!/usr/bin/env python3
"""Colony swarms that find each other through an ordinary BitTorrent DHT (issue 12, discovery).

Starts a swarm of libtorrent DHT nodes on 127.0.0.1 that know each other, then Colony processes each bootstrapped
from a *different* libtorrent node, so that no Colony address is known to any of them in advance:
  - network "rdv": a `colony node` and two `colony worker`s; a `colony publish` and a `colony results`, also
    bootstrapped from libtorrent nodes only;
  - network "elsewhere": a `colony worker` on the same DHT.
Checks that the rdv peers found each other under their network's key, that the job completes with the exact
result, and that the other network's worker neither computed a unit nor kept custody of it.

Usage: python3 Tests/Interop/rendezvous.py --colony .build/debug/colony
Needs libtorrent's Python bindings (`python3 -m pip install libtorrent`).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dht_interop import LOCALHOST, LibtorrentNode, Results  # noqa: E402

# Small units and long leases: the test runs the debug build, whose kernels are slow, and a worker that waits past
# its lease for a partner reveals alone (with two workers, a unit then waits for a third).
SPEC = {"kernel": "mersenne", "title": "Mersenne prime exponents below 1,000 (rendezvous)",
        "parameters": {"below": 1000, "exponentsPerUnit": 25},
        "redundancy": {"replicas": 2, "quorum": 2, "maxAttempts": 10}, "leaseSeconds": 300}
EXPECTED = [2, 3, 5, 7, 13, 17, 19, 31, 61, 89, 107, 127, 521, 607]


class Colony:
    """The colony processes this script started, each with its data directory and log file."""

    def __init__(self, binary, folder):
        self.binary = binary
        self.folder = folder
        self.processes = {}

    def log(self, name):
        path = os.path.join(self.folder, f"{name}.log")
        return open(path).read() if os.path.exists(path) else ""

    def start(self, name, *arguments):
        log = open(os.path.join(self.folder, f"{name}.log"), "w")
        self.processes[name] = subprocess.Popen(
            [self.binary, *arguments, "--data-dir", os.path.join(self.folder, name)], stdout=log, stderr=subprocess.STDOUT)

    def run(self, name, *arguments, timeout=120):
        done = subprocess.run([self.binary, *arguments, "--data-dir", os.path.join(self.folder, name)],
                              capture_output=True, text=True, timeout=timeout)
        return done.returncode, done.stdout, done.stderr

    def wait_for(self, name, text, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log(name):
                return True
            if self.processes[name].poll() is not None:
                return False
            time.sleep(0.2)  # polling a log file: the process signals nothing else
        return False

    def stop_all(self):
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--colony", required=True, help="the colony executable")
    arguments = parser.parse_args()
    results = Results()
    folder = tempfile.mkdtemp(prefix="colony-rendezvous-")
    colony = Colony(os.path.abspath(arguments.colony), folder)
    try:
        torrents = [LibtorrentNode(f"libtorrent-{index}") for index in range(4)]
        for node in torrents:
            for other in torrents:
                if other is not node:
                    node.add_node(other.port)
        known = max(len(torrents[0].live_nodes()), 0)
        print(f"  .. libtorrent swarm: {', '.join(node.endpoint for node in torrents)} ({known} live nodes seen by the first)")
        seeds = [node.endpoint for node in torrents]

        # Without BEP 14: on one machine the peers would hear each other on the LAN before the DHT showed them.
        common = ["--port", "0", "--network", "rdv", "--no-local-discovery"]
        colony.start("node", "node", "--host", "127.0.41.1", "--bootstrap", seeds[0], *common)
        colony.start("worker1", "worker", "--host", "127.0.42.1", "--bootstrap", seeds[1], "--cores", "1",
                     "--kernels", "mersenne", *common)
        colony.start("worker2", "worker", "--host", "127.0.43.1", "--bootstrap", seeds[2], "--cores", "1",
                     "--kernels", "mersenne", *common)
        colony.start("outsider", "worker", "--host", "127.0.44.1", "--bootstrap", seeds[3], "--cores", "1",
                     "--kernels", "mersenne", "--port", "0", "--network", "elsewhere", "--no-local-discovery")

        for name in ["node", "worker1", "worker2"]:
            found = colony.wait_for(name, "Colony peers of network 'rdv' through the DHT", 90)
            results.check(f"{name} finds its network through libtorrent", found,
                          next((line for line in colony.log(name).splitlines() if "through the DHT" in line), colony.log(name)[-400:]))
            reachable = colony.wait_for(name, "reachable: dialed back", 60)
            results.check(f"{name} is dialed back", reachable, colony.log(name)[-300:] if not reachable else "yes")

        spec = os.path.join(folder, "spec.json")
        with open(spec, "w") as file:
            json.dump(SPEC, file)
        status, out, err = colony.run("publisher", "publish", spec, "--host", "127.0.0.1", "--bootstrap", seeds[3],
                                      "--network", "rdv", "--json")
        job = None
        for line in out.splitlines():
            if line.startswith("{"):
                job = json.loads(line).get("job")
        results.check("publish through a libtorrent node", status == 0 and job, f"exit {status}: {err.strip()[-300:]}")
        if not job:
            return finish(results, colony)

        verified = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and verified is None:
            status, out, err = colony.run("collector", "results", job, "--bootstrap", seeds[0], "--network", "rdv",
                                          "--json", "--out", os.path.join(folder, "out"))
            if status == 0:
                verified = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
            else:
                time.sleep(2)  # asked again: the job's state is with the custodians, and only asking shows it
        exponents = verified and verified.get("summary", {}).get("exponents")
        results.check("the job completes with the exact result", exponents == EXPECTED,
                      f"{exponents}" if verified else f"not verified: {err.strip()[-300:]}")

        outsider = colony.log("outsider")
        custody = os.path.join(folder, "outsider", "custody")
        kept = [name for name in os.listdir(custody) if name.endswith(".log")] if os.path.isdir(custody) else []
        results.check("the other network's worker took no part",
                      "computed" not in outsider.replace("computed 0", "") and not kept,
                      f"custody logs {kept}; log tail: {outsider.strip().splitlines()[-1:] if outsider.strip() else ''}")
        return finish(results, colony)
    except Exception as error:  # the swarm could not be set up: say what, and fail
        results.check("set up", False, repr(error))
        return finish(results, colony)
    finally:
        colony.stop_all()
        if results.failed == 0:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"  .. logs kept in {folder}")


def finish(results, colony):
    print(f"{results.passed} passed, {results.failed} failed", flush=True)
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
