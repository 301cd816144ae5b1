#!/usr/bin/env python3
"""Interop check between Colony's DHT (`colony dht ...`) and libtorrent's DHT on 127.0.0.1.

Runs a mixed swarm (libtorrent sessions + `colony dht serve` nodes, bootstrapped to each other) and checks:
  (a) immutable items put by one implementation are read by the other,
  (b) the same for a mutable item with a salt (BEP 44),
  (c) each side's routing table holds nodes of the other.
Every check prints PASS/FAIL with details; the exit status is 1 when any check fails or the swarm cannot be set up.

Usage: python3 Tests/Interop/dht_interop.py --colony .build/debug/colony
       python3 Tests/Interop/dht_interop.py --libtorrent-only      (the libtorrent side against itself)
Needs libtorrent's Python bindings (`python3 -m pip install libtorrent`) and, for the mutable items, either
pyca/cryptography or the openssl command (to derive an Ed25519 public key from a seed).
"""

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings

try:
    import libtorrent as lt
except ImportError as missing:
    sys.exit(f"dht_interop.py needs libtorrent's Python bindings ({missing}): python3 -m pip install libtorrent")

LOCALHOST = "127.0.0.1"


# --- results -------------------------------------------------------------------------------------------------------

class Results:
    """Named checks, printed as they finish."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.started = time.monotonic()

    def check(self, name, ok, details):
        self.passed += 1 if ok else 0
        self.failed += 0 if ok else 1
        stamp = time.monotonic() - self.started
        print(f"{'PASS' if ok else 'FAIL'} [{stamp:5.1f}s] {name}: {details}", flush=True)
        return ok


def log(text):
    print(f"  .. {text}", flush=True)


def wait_until(predicate, timeout, wait):
    """Tries `predicate` until it returns something truthy or `timeout` seconds pass; returns the last value.
    Between tries `wait(seconds)` blocks until the node in question reports something (a libtorrent alert, a
    Colony event line) or the seconds pass: the state can only have changed after such a report."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        left = deadline - time.monotonic()
        if value or left <= 0:
            return value
        wait(min(left, 1.0))


# --- bencoding and raw KRPC (only to look into a node's storage directly) ------------------------------------------

def bencode(value):
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, bytes):
        return b"%d:%s" % (len(value), value)
    if isinstance(value, list):
        return b"l" + b"".join(bencode(item) for item in value) + b"e"
    if isinstance(value, dict):
        keys = sorted((key.encode() if isinstance(key, str) else key, item) for key, item in value.items())
        return b"d" + b"".join(bencode(key) + bencode(item) for key, item in keys) + b"e"
    raise TypeError(f"cannot bencode {type(value)}")


def bdecode(data, index=0):
    """Decodes one value at `index`; returns (value, next index). Raises ValueError on malformed input."""
    head = data[index:index + 1]
    if head == b"i":
        end = data.index(b"e", index)
        return int(data[index + 1:end]), end + 1
    if head in (b"l", b"d"):
        items, index = [], index + 1
        while data[index:index + 1] != b"e":
            if index >= len(data):
                raise ValueError("unterminated list or dictionary")
            item, index = bdecode(data, index)
            items.append(item)
        if head == b"l":
            return items, index + 1
        return dict(zip(items[0::2], items[1::2])), index + 1
    if head.isdigit():
        colon = data.index(b":", index)
        length = int(data[index:colon])
        return data[colon + 1:colon + 1 + length], colon + 1 + length
    raise ValueError(f"bad bencoding at {index}")


def krpc_get(port, target, timeout=2.0):
    """Sends a read-only (BEP 43 `ro`, so we never enter its table) `get` to 127.0.0.1:port; returns the `r` dict,
    the error list, or None on silence."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOCALHOST, 0))
        sock.settimeout(timeout)
        query = {"t": b"ix", "y": b"q", "q": b"get", "ro": 1, "a": {"id": os.urandom(20), "target": target}}
        sock.sendto(bencode(query), (LOCALHOST, port))
        try:
            data, _ = sock.recvfrom(65536)
        except socket.timeout:
            return None
    message, _ = bdecode(data)
    if message.get(b"y") == b"e":
        return {"error": message.get(b"e")}
    return message.get(b"r")


def nodes_holding(ports, target):
    """Ports whose node returns a `v` for `target` to a direct `get`."""
    return [port for port in ports if b"v" in (krpc_get(port, target) or {})]


# --- Ed25519 key material for libtorrent's dht_put_mutable_item --------------------------------------------------

def ed25519_keys(seed):
    """Returns (64-byte expanded secret, 32-byte public key) for a 32-byte seed.

    libtorrent's Python binding wants the expanded secret (SHA-512 of the seed, clamped); the public key comes from
    OpenSSL (through pyca/cryptography or the openssl command), never from code of ours.
    """
    expanded = bytearray(hashlib.sha512(seed).digest())
    expanded[0] &= 248
    expanded[31] &= 127
    expanded[31] |= 64
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    except ImportError:
        # PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410), then the last 32 bytes of the DER public key.
        der = bytes.fromhex("302e020100300506032b657004220420") + seed
        public = subprocess.run(
            ["openssl", "pkey", "-inform", "DER", "-pubout", "-outform", "DER"], input=der, capture_output=True,
            check=True).stdout[-32:]
    return bytes(expanded), public


# --- libtorrent side -----------------------------------------------------------------------------------------------

class LibtorrentNode:
    """One libtorrent session with its DHT on 127.0.0.1, settings relaxed for a loopback swarm."""

    def __init__(self, name):
        self.name = name
        self.session = lt.session({
            "listen_interfaces": f"{LOCALHOST}:0",
            "enable_dht": True,
            "dht_bootstrap_nodes": "",
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            # All nodes share 127.0.0.1: without these libtorrent keeps one node per IP and bans chatty IPs.
            "dht_restrict_routing_ips": False,
            "dht_restrict_search_ips": False,
            "dht_block_ratelimit": 100000,
            "dht_upload_rate_limit": 1000000,
            "alert_mask": lt.alert_category.dht | lt.alert_category.dht_operation | lt.alert_category.error,
        })
        self.alerts = []
        if not wait_until(lambda: self.session.listen_port() != 0, 10, self.wait_activity):
            raise RuntimeError(f"{name}: libtorrent did not start listening on {LOCALHOST}")
        self.port = self.session.listen_port()
        self.node_id = wait_until(self._own_id, 10, self.wait_activity)
        if not self.node_id:
            raise RuntimeError(f"{name}: libtorrent's DHT has no node ID")

    @property
    def endpoint(self):
        return f"{LOCALHOST}:{self.port}"

    def _own_id(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ids = self.session.dht_state().get(b"node-id") or []
        return ids[0][:20].hex() if ids else None

    def pump(self):
        # An alert object is only valid until the next pop_alerts(): copy what the checks need right away.
        for alert in self.session.pop_alerts():
            record = {"kind": type(alert).__name__, "message": alert.message()}
            if isinstance(alert, lt.dht_put_alert):
                record.update(target=str(alert.target), public_key=bytes(alert.public_key), salt=bytes(alert.salt),
                              seq=alert.seq, num_success=alert.num_success)
            elif isinstance(alert, lt.dht_immutable_item_alert):
                record.update(target=str(alert.target), item=alert.item)
            elif isinstance(alert, lt.dht_mutable_item_alert):
                record.update(key=bytes(alert.key), salt=bytes(alert.salt), seq=alert.seq, item=alert.item,
                              authoritative=alert.authoritative)
            elif isinstance(alert, lt.dht_live_nodes_alert):
                record.update(node_id=str(alert.node_id), nodes={
                    str(node["nid"]): f"{node['endpoint'][0]}:{node['endpoint'][1]}" for node in alert.nodes})
            else:
                continue
            self.alerts.append(record)

    def wait_activity(self, seconds):
        """Blocks until libtorrent posts an alert or `seconds` pass, and collects what it posted."""
        self.session.wait_for_alert(int(seconds * 1000))
        self.pump()

    def wait_alert(self, predicate, timeout):
        """Returns the first queued or new alert record matching `predicate` (removing it), or None."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            for index, record in enumerate(self.alerts):
                if predicate(record):
                    return self.alerts.pop(index)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.session.wait_for_alert(int(min(left, 0.5) * 1000))

    def add_node(self, port):
        self.session.add_dht_node((LOCALHOST, port))

    def live_nodes(self, timeout=5):
        """{node id hex: "127.0.0.1:port"} of the live nodes in libtorrent's routing table."""
        self.pump()
        self.alerts = [record for record in self.alerts if record["kind"] != "dht_live_nodes_alert"]
        self.session.dht_live_nodes(lt.sha1_hash(bytes.fromhex(self.node_id)))
        record = self.wait_alert(lambda r: r["kind"] == "dht_live_nodes_alert", timeout)
        return record["nodes"] if record else {}

    def put_immutable(self, value, timeout):
        """Returns (target hex, nodes that acknowledged the put, or None on timeout)."""
        target = str(self.session.dht_put_immutable_item(value))
        record = self.wait_alert(lambda r: r["kind"] == "dht_put_alert" and r["target"] == target, timeout)
        return target, (record["num_success"] if record else None)

    def get_immutable(self, target, timeout):
        """Returns the item (bytes for a string), or None when libtorrent's lookup finds nothing."""
        self.session.dht_get_immutable_item(lt.sha1_hash(bytes.fromhex(target)))
        record = self.wait_alert(
            lambda r: r["kind"] == "dht_immutable_item_alert" and r["target"] == target, timeout)
        return record["item"] if record and record["item"] else None

    def put_mutable(self, expanded_secret, public_key, value, salt, timeout):
        """Returns (seq, nodes that acknowledged), or (None, None) on timeout."""
        self.session.dht_put_mutable_item(expanded_secret, public_key, value, salt)
        record = self.wait_alert(
            lambda r: r["kind"] == "dht_put_alert" and r["public_key"] == public_key and r["salt"] == salt, timeout)
        return (record["seq"], record["num_success"]) if record else (None, None)

    def get_mutable(self, public_key, salt, expected, timeout):
        """The first dht_mutable_item_alert record whose (item, seq) is `expected`, else the final (authoritative)
        one, or None.

        libtorrent posts an alert for every newer item it finds (each signature verified) and a last one when the
        lookup ends; the lookup itself can take libtorrent's 15 s request timeout when a node in its table is gone.
        """
        self.session.dht_get_mutable_item(public_key, salt)
        record = self.wait_alert(
            lambda r: r["kind"] == "dht_mutable_item_alert" and r["key"] == public_key and r["salt"] == salt
            and ((r["item"], r["seq"]) == expected or r["authoritative"]), timeout)
        return record

    def close(self):
        # Deleting the session stops it (the binding has no explicit abort that returns quickly).
        del self.session


# --- Colony side ---------------------------------------------------------------------------------------------------

class ColonyProcesses:
    """Every `colony` process started here, so all of them end on the way out, whatever happens."""

    def __init__(self, executable, folder):
        self.executable = executable
        self.folder = folder
        self.running = []
        self.counter = 0

    def data_dir(self, label):
        self.counter += 1
        path = os.path.join(self.folder, f"{self.counter:02d}-{label}")
        os.makedirs(path)
        return path

    def run(self, arguments, label, timeout):
        """Runs one short `colony` command in its own data directory; returns (exit code, stdout, stderr).

        The command gets `timeout` seconds for its own work (--timeout) and 10 more before it is killed.
        """
        command = [self.executable, *arguments, "--timeout", str(max(1, int(timeout))), "--data-dir",
                   self.data_dir(label)]
        timeout += 10
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as expired:
            out = expired.stdout.decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
            err = expired.stderr.decode() if isinstance(expired.stderr, bytes) else (expired.stderr or "")
            return None, out, err + f"\n(timed out after {timeout} s: {' '.join(command)})"
        return done.returncode, done.stdout, done.stderr

    def stop_all(self):
        for node in self.running:
            node.stop()


class ColonyNode:
    """A `colony dht serve --json` process and the events it prints."""

    def __init__(self, processes, name, bootstrap):
        self.name = name
        self.data_dir = processes.data_dir(name)
        self.events = []
        self.ended = False
        self.lock = threading.Lock()
        # Signalled by the reader for every event line and at the end of the output.
        self.changed = threading.Condition(self.lock)
        # Port 0: the node binds a free port and says which in its 'listening' event.
        command = [processes.executable, "dht", "serve", "--host", LOCALHOST, "--port", "0",
                   "--data-dir", self.data_dir, "--json"]
        for endpoint in bootstrap:
            command += ["--bootstrap", endpoint]
        self.command = command
        self.stderr_path = os.path.join(self.data_dir, "stderr.log")
        self.stderr_file = open(self.stderr_path, "w")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.stderr_file, text=True)
        processes.running.append(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        listening = self.wait_event(lambda e: e.get("event") == "listening", 15)
        if listening is None:
            raise RuntimeError(f"{name}: no 'listening' event from {' '.join(command)}\n{self.diagnostics()}")
        self.endpoint = listening["endpoint"]
        self.port = int(self.endpoint.rsplit(":", 1)[1])
        self.node_id = listening["id"]

    def _read(self):
        for line in self.process.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "unparsed", "line": line}
            with self.changed:
                self.events.append(event)
                self.changed.notify_all()
        with self.changed:
            self.ended = True
            self.changed.notify_all()

    def wait_for_news(self, seconds):
        """Blocks until the node prints another event (it prints one each time it saves state.json with a
        changed table) or `seconds` pass."""
        with self.changed:
            count = len(self.events)
            self.changed.wait_for(lambda: len(self.events) > count or self.ended, seconds)

    def wait_event(self, predicate, timeout):
        """The first event matching `predicate`, or None after `timeout` or once the process's output ended."""
        def find():
            return next((event for event in self.events if predicate(event)), None)
        with self.changed:
            self.changed.wait_for(lambda: find() is not None or self.ended, timeout)
            return find()
        return find()

    def state(self):
        """The node's <data-dir>/dht/state.json, or None while it is missing or half-written."""
        try:
            with open(os.path.join(self.data_dir, "dht", "state.json")) as file:
                return json.load(file)
        except (OSError, ValueError):
            return None

    def table_endpoints(self):
        state = self.state() or {}
        return {node.get("endpoint") for node in state.get("nodes", [])}

    def diagnostics(self):
        with self.lock:
            events = self.events[-8:]
        try:
            with open(self.stderr_path) as file:
                errors = file.read()[-2000:]
        except OSError:
            errors = ""
        return (f"    {self.name} exit={self.process.poll()} events(last 8)={json.dumps(events)}\n"
                f"    {self.name} stderr: {errors.strip() or '(empty)'}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stderr_file.close()


def parse_json(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


# --- the checks ----------------------------------------------------------------------------------------------------

def libtorrent_self_check(results, lts, timeout):
    """The libtorrent half against itself: proves the harness before Colony is involved."""
    ids = {node.node_id for node in lts}
    for node in lts:
        others = ids - {node.node_id}
        live = wait_until(lambda: (lambda nodes: nodes if others <= set(nodes) else None)(node.live_nodes()),
                          timeout, node.wait_activity) or node.live_nodes()
        results.check(f"libtorrent self: {node.name} table holds the other sessions", others <= set(live),
                      f"{len(live)} live nodes: {sorted(live.values())}")
    value = b"libtorrent to libtorrent " + os.urandom(4).hex().encode()
    target, acknowledged = lts[0].put_immutable(value, timeout)
    got = lts[1].get_immutable(target, timeout)
    results.check("libtorrent self: immutable put/get", got == value,
                  f"target {target}, put acknowledged by {acknowledged}, read back {got!r}")
    secret, public = ed25519_keys(os.urandom(32))
    salt = b"self-salt"
    seq, acknowledged = lts[0].put_mutable(secret, public, b"mutable self", salt, timeout)
    record = lts[2].get_mutable(public, salt, (b"mutable self", seq), timeout)
    got = (record["item"], record["seq"]) if record else None
    results.check("libtorrent self: mutable put/get", got == (b"mutable self", seq),
                  f"put seq {seq} acknowledged by {acknowledged}, read (item, seq) = {got}")


class Items:
    """What each side stored, so the other side can read it back."""

    def __init__(self):
        self.lt_immutable = None      # (target hex, value bytes, acknowledgements)
        self.lt_mutable = None        # (public key, salt str, value bytes, seq, acknowledgements)
        self.colony_immutable = None  # (target hex, value str)
        self.colony_mutable = None    # (public key, salt str, value str, seq)


def libtorrent_puts(items, lts, timeout):
    value = b"from libtorrent " + os.urandom(4).hex().encode()
    target, acknowledged = lts[0].put_immutable(value, timeout)
    items.lt_immutable = (target, value, acknowledged)
    secret, public = ed25519_keys(os.urandom(32))
    salt = "lt-salt-" + os.urandom(3).hex()
    value = b"mutable from libtorrent " + os.urandom(4).hex().encode()
    seq, acknowledged = lts[1].put_mutable(secret, public, value, salt.encode(), timeout)
    items.lt_mutable = (public, salt, value, seq, acknowledged)
    log(f"libtorrent put immutable {target} (acknowledged by {items.lt_immutable[2]}), mutable key {public.hex()} "
        f"salt {salt!r} seq {seq} (acknowledged by {acknowledged})")


def colony_reads(results, items, colonies, processes, timeout):
    bootstrap = [arg for node in colonies for arg in ("--bootstrap", node.endpoint)]
    colony_ports = [node.port for node in colonies]

    target, value, acknowledged = items.lt_immutable
    held = nodes_holding(colony_ports, bytes.fromhex(target))
    code, out, err = processes.run(["dht", "get", target, *bootstrap, "--json"], "get-immutable", timeout)
    reply = parse_json(out) or {}
    results.check("(a) immutable item put by libtorrent, read by colony dht get",
                  code == 0 and reply.get("value") == value.decode() and reply.get("target") == target,
                  f"target {target}, libtorrent put acknowledged by {acknowledged} nodes; colony exit {code}, "
                  f"output {out.strip()!r} {err.strip()[-600:]!r}")
    results.check("(a) Colony nodes store libtorrent's immutable put", len(held) > 0,
                  f"a direct get finds it on {len(held)} of {len(colony_ports)} Colony nodes")

    public, salt, value, seq, acknowledged = items.lt_mutable
    target = hashlib.sha1(public + salt.encode()).digest()
    held = nodes_holding(colony_ports, target)
    code, out, err = processes.run(["dht", "get", public.hex(), "--salt", salt, *bootstrap, "--json"],
                                   "get-mutable", timeout)
    reply = parse_json(out) or {}
    results.check("(b) mutable item with salt put by libtorrent, read by colony dht get",
                  code == 0 and reply.get("value") == value.decode() and reply.get("seq") == seq,
                  f"key {public.hex()} salt {salt!r}, libtorrent put seq {seq} acknowledged by {acknowledged} "
                  f"nodes; colony exit {code}, output {out.strip()!r} {err.strip()[-600:]!r}")
    results.check("(b) Colony nodes store libtorrent's signed put", len(held) > 0,
                  f"a direct get of target {target.hex()} finds it on {len(held)} of {len(colony_ports)} "
                  f"Colony nodes")


def colony_puts(results, items, colonies, processes, timeout):
    bootstrap = [arg for node in colonies for arg in ("--bootstrap", node.endpoint)]

    text = "from colony " + os.urandom(4).hex()
    code, out, err = processes.run(["dht", "put", text, *bootstrap, "--json"], "put-immutable", timeout)
    reply = parse_json(out) or {}
    expected = hashlib.sha1(bencode(text)).hexdigest()
    results.check("(a) colony dht put stores an immutable item",
                  code == 0 and reply.get("target") == expected and reply.get("stored", 0) > 0,
                  f"exit {code}, output {out.strip()!r}; expected target SHA-1('{len(text)}:{text}') = {expected} "
                  f"{err.strip()[-600:]!r}")
    items.colony_immutable = (expected, text)

    salt = "colony-salt-" + os.urandom(3).hex()
    text = "mutable from colony " + os.urandom(4).hex()
    code, out, err = processes.run(["dht", "put", "--mutable", "--salt", salt, text, *bootstrap, "--json"],
                                   "put-mutable", timeout)
    reply = parse_json(out) or {}
    key_hex = reply.get("publicKey") or ""
    ok = code == 0 and len(key_hex) == 64 and isinstance(reply.get("seq"), int) and reply.get("stored", 0) > 0
    results.check("(b) colony dht put --mutable --salt stores a signed item", ok,
                  f"exit {code}, output {out.strip()!r} {err.strip()[-600:]!r}")
    if ok:
        items.colony_mutable = (bytes.fromhex(key_hex), salt, text, reply["seq"])


def libtorrent_reads(results, items, lts, timeout):
    lt_ports = [node.port for node in lts]
    if items.colony_immutable:
        target, text = items.colony_immutable
        held = nodes_holding(lt_ports, bytes.fromhex(target))
        got = lts[2].get_immutable(target, timeout)
        results.check("(a) immutable item put by colony, read by libtorrent", got == text.encode(),
                      f"dht_get_immutable_item({target}) gave {got!r}")
        results.check("(a) libtorrent nodes store Colony's immutable put", len(held) > 0,
                      f"a direct get finds it on {len(held)} of {len(lt_ports)} libtorrent nodes")
    if items.colony_mutable:
        key, salt, text, seq = items.colony_mutable
        target = hashlib.sha1(key + salt.encode()).digest()
        held = nodes_holding(lt_ports, target)
        record = lts[2].get_mutable(key, salt.encode(), (text.encode(), seq), timeout)
        got = (record["item"], record["seq"], record["authoritative"]) if record else None
        results.check("(b) mutable item with salt put by colony, read by libtorrent",
                      got is not None and got[:2] == (text.encode(), seq),
                      f"dht_get_mutable_item({key.hex()}, {salt!r}) gave (item, seq, authoritative) = {got}; "
                      f"colony put seq {seq}")
        results.check("(b) libtorrent nodes store Colony's signed put", len(held) > 0,
                      f"a direct get of target {target.hex()} finds it on {len(held)} of {len(lt_ports)} "
                      f"libtorrent nodes")


def routing_checks(results, lts, colonies, timeout):
    colony_ids = {node.node_id: node.endpoint for node in colonies}
    lt_endpoints = {node.endpoint for node in lts}

    for node in lts:
        live = wait_until(lambda: (lambda nodes: nodes if set(nodes) & set(colony_ids) else None)(
            node.live_nodes()), timeout, node.wait_activity) or node.live_nodes()
        found = sorted(colony_ids[nid] for nid in set(live) & set(colony_ids))
        results.check(f"(c) libtorrent {node.name} ({node.endpoint}) holds Colony nodes", bool(found),
                      f"{len(live)} live nodes, Colony ones: {found or 'none'}; table {sorted(live.values())}")
    for node in colonies:
        endpoints = wait_until(lambda: node.table_endpoints() & lt_endpoints, timeout, node.wait_for_news)
        state = node.state() or {}
        results.check(f"(c) Colony {node.name} ({node.endpoint}) holds libtorrent nodes", bool(endpoints),
                      f"state.json tableSize {state.get('tableSize')}, libtorrent ones: "
                      f"{sorted(endpoints or []) or 'none'}; table {sorted(filter(None, node.table_endpoints()))}")


# --- main ----------------------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--colony", help="path of the colony executable")
    parser.add_argument("--libtorrent-only", action="store_true", help="check the libtorrent half against itself")
    parser.add_argument("--libtorrent-nodes", type=int, default=3)
    parser.add_argument("--colony-nodes", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=20, help="seconds for each wait")
    parser.add_argument("--keep", action="store_true", help="keep the Colony data directories")
    args = parser.parse_args()
    if not args.libtorrent_only and not args.colony:
        parser.error("--colony PATH is required (or --libtorrent-only)")

    results = Results()
    folder = tempfile.mkdtemp(prefix="colony-dht-interop-")
    processes = ColonyProcesses(os.path.abspath(args.colony) if args.colony else None, folder)
    lts, colonies = [], []

    def on_signal(number, _frame):
        raise KeyboardInterrupt(f"signal {number}")
    signal.signal(signal.SIGTERM, on_signal)

    try:
        print(f"libtorrent {lt.__version__}; work folder {folder}", flush=True)
        lts = [LibtorrentNode(f"lt{index + 1}") for index in range(args.libtorrent_nodes)]
        for node in lts:
            for other in lts:
                if other is not node:
                    node.add_node(other.port)
        log("libtorrent sessions: " + ", ".join(f"{n.name} {n.endpoint} id {n.node_id}" for n in lts))
        if args.libtorrent_only:
            libtorrent_self_check(results, lts, args.timeout)
        else:
            # Colony nodes: the first bootstraps from the libtorrent sessions, the next ones also from the
            # Colony nodes before them; then the libtorrent sessions learn the Colony nodes too.
            for index in range(args.colony_nodes):
                bootstrap = [node.endpoint for node in lts] + [node.endpoint for node in colonies]
                colonies.append(ColonyNode(processes, f"colony{index + 1}", bootstrap))
                log(f"{colonies[-1].name} {colonies[-1].endpoint} id {colonies[-1].node_id}")
            for node in lts:
                for colony in colonies:
                    node.add_node(colony.port)
            for colony in colonies:
                joined = colony.wait_event(lambda e: e.get("event") == "joined", args.timeout)
                if not isinstance(joined, dict):
                    print(colony.diagnostics(), flush=True)
                log(f"{colony.name} joined: {joined}")
            routing_checks(results, lts, colonies, args.timeout)
            # Order matters for speed: libtorrent adds the short-lived (read-only) `colony dht put` node to its
            # table when it accepts its put, and after that node exits every lookup near it waits for a timeout.
            # So libtorrent's puts and Colony's reads come first, then Colony's puts and libtorrent's reads.
            items = Items()
            libtorrent_puts(items, lts, args.timeout)
            colony_reads(results, items, colonies, processes, args.timeout)
            colony_puts(results, items, colonies, processes, args.timeout)
            libtorrent_reads(results, items, lts, args.timeout)
            if results.failed:
                for colony in colonies:
                    print(colony.diagnostics(), flush=True)
    except KeyboardInterrupt as interrupt:
        results.check("run", False, f"interrupted ({interrupt})")
    except Exception as error:  # a setup failure still ends every process and says why
        if not isinstance(error, RuntimeError):
            traceback.print_exc()
        print(f"ERROR: {type(error).__name__}: {error}", flush=True)
        for colony in colonies:
            print(colony.diagnostics(), flush=True)
        results.failed += 1
    finally:
        processes.stop_all()
        for node in lts:
            node.close()
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    seconds = time.monotonic() - results.started
    print(f"dht interop: {results.passed} passed, {results.failed} failed ({seconds:.1f} s)", flush=True)
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
