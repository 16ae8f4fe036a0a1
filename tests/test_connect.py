"""`snoozebot connect` as OpenSSH's ProxyCommand runs it: the real command in a subprocess.

moto's EC2 server holds the instances; a TCP server on 127.0.0.1 started here
stands in for the machine, named by the `snoozebot-address` tag or
`-o address=127.0.0.1` (moto's own addresses are never connected to). One test
runs the real OpenSSH client through the ProxyCommand against a throwaway sshd
on a loopback port (skipped only when sshd is not installed). The audited wakes and the
lock (``both_backends``) run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from conftest import SNOOZEBOT, free_port, leftover_workers, run_cli
from state_rows import store

from snoozebot import sdk
from snoozebot.cli.connect import resolve_address
from snoozebot.host.replies import MalformedReply, parse_instance
from snoozebot.locks import InstanceLocks
from snoozebot_aws._convert import from_description
from snoozebot_gcp._mapping import to_instance

AMI = "ami-12c6146b"
PAYLOAD = os.urandom(4 * 1024 * 1024)
Handler = Callable[[socket.socket], None]


# -- the machine: a TCP server on 127.0.0.1 -----------------------------------


class Machine:
    """A TCP server on 127.0.0.1 that hands every connection to ``handler`` in a thread."""

    def __init__(self, handler: Handler) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self.connected = threading.Event()
        self.done = threading.Event()
        self._handler = handler
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connected.set()
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        with contextlib.suppress(OSError), conn:
            self._handler(conn)

    def close(self) -> None:
        self.done.set()
        self._thread.join(timeout=5)
        self.listener.close()


@contextlib.contextmanager
def machine(handler: Handler) -> Iterator[Machine]:
    server = Machine(handler)
    try:
        yield server
    finally:
        server.close()


def echo(conn: socket.socket) -> None:
    """Send back every byte, then close once the other side has half-closed."""
    while data := conn.recv(65536):
        conn.sendall(data)


def digest_after_eof(conn: socket.socket) -> None:
    """Read to end of input, then answer with its length and SHA-256: only a half-close gets an answer."""
    digest, size = hashlib.sha256(), 0
    while data := conn.recv(65536):
        digest.update(data)
        size += len(data)
    conn.sendall(f"{size} {digest.hexdigest()}\n".encode())


def drop_midstream(conn: socket.socket) -> None:
    """Send some bytes, then reset the connection (SO_LINGER 0) as a dying machine would."""
    conn.sendall(b"partial answer")
    conn.recv(10)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# -- instances ------------------------------------------------------------------


def launch(*, name: str | None = "devbox", address: str | None = "127.0.0.1", stopped: bool = True) -> str:
    tags = {"Name": name, "snoozebot-address": address}
    spec = [{"Key": k, "Value": v} for k, v in tags.items() if v is not None]
    ec2 = boto3.client("ec2")
    extra = {"TagSpecifications": [{"ResourceType": "instance", "Tags": spec}]} if spec else {}
    iid = str(ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, **extra)["Instances"][0]["InstanceId"])
    if stopped:
        ec2.stop_instances(InstanceIds=[iid])
    return iid


def state(iid: str) -> str:
    reply = boto3.client("ec2").describe_instances(InstanceIds=[iid])
    return str(reply["Reservations"][0]["Instances"][0]["State"]["Name"])


def connect(*args: str, data: bytes = b"", timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    """The real `snoozebot connect ARGS` with ``data`` on stdin (then end of input)."""
    return subprocess.run(  # noqa: PLW1510 - the exit code is the result
        [SNOOZEBOT, "connect", *args], input=data, capture_output=True, timeout=timeout
    )


def history() -> list[dict[str, object]]:
    found = run_cli("history", "--json")
    assert found.returncode == 0, found.stderr
    rows: list[dict[str, object]] = found.json()
    return rows


def one_error_line(proc: subprocess.CompletedProcess[bytes], code: int) -> str:
    """The single stderr line of a clean failure (no traceback, nothing on stdout)."""
    err = proc.stderr.decode()
    assert proc.returncode == code, err
    assert proc.stdout == b""
    assert err.startswith("snoozebot: error: ") and err.count("\n") == 1, err
    return err


@pytest.fixture
def no_leftovers(isolated_home: Path) -> Iterator[None]:
    yield
    assert leftover_workers(isolated_home) == []


# -- waking and relaying ----------------------------------------------------------


@pytest.mark.both_backends
def test_a_stopped_instance_is_started_audited_and_relayed_both_ways(moto_ec2: str, no_leftovers: None) -> None:
    iid = launch()
    assert state(iid) == "stopped"
    with machine(echo) as box:
        proc = connect(iid, "-p", "aws", "--port", str(box.port), data=PAYLOAD)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == PAYLOAD  # 4 MiB of random bytes up and back: binary-safe, nothing added
    assert proc.stderr == b""  # stderr is no terminal and there is no --verbose: silence
    assert state(iid) == "running"
    [row] = history()
    assert (row["source"], row["action"], row["instance"], row["result"]) == ("wake", "start", iid, "ok")


def test_end_of_input_half_closes_and_the_answer_still_arrives(moto_ec2: str, no_leftovers: None) -> None:
    launch(stopped=False)
    with machine(digest_after_eof) as box:
        proc = connect("devbox", "-p", "aws", "--port", str(box.port), data=PAYLOAD)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode() == f"{len(PAYLOAD)} {hashlib.sha256(PAYLOAD).hexdigest()}\n"
    assert history() == []  # a running instance is connected at once: nothing started


def test_names_with_the_snooze_suffix_and_address_option(moto_ec2: str, no_leftovers: None) -> None:
    iid = launch(name="web-7", address=None)
    with machine(echo) as box:
        proc = connect("web-7.snooze", "-p", "aws", "--port", str(box.port), "-o", "address=127.0.0.1",
                       "--verbose", data=b"ping\n")
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b"ping\n"
    progress = proc.stderr.decode()
    assert f"starting {iid} (web-7)" in progress and f"connected to 127.0.0.1:{box.port}" in progress
    assert state(iid) == "running"


def test_the_address_tag_comes_before_the_instances_own_addresses() -> None:
    base = {"id": "i-1", "provider": "aws", "state": "running"}
    tagged = sdk.Instance.from_dict({**base, "tags": {"snoozebot-address": "tag.example"},
                                     "public_ip": "203.0.113.5", "private_ip": "192.0.2.5"})
    assert resolve_address(tagged, None) == "tag.example"
    assert resolve_address(tagged, "option.example") == "option.example"
    assert resolve_address(sdk.Instance.from_dict({**base, "public_ip": "203.0.113.5", "private_ip": "192.0.2.5"}),
                           None) == "203.0.113.5"
    assert resolve_address(sdk.Instance.from_dict({**base, "private_ip": "192.0.2.5"}), None) == "192.0.2.5"


@pytest.mark.both_backends
def test_the_lock_of_instance_start_is_respected(moto_ec2: str, isolated_home: Path) -> None:
    iid = launch()
    with InstanceLocks(isolated_home, store(isolated_home)).hold("aws", [iid], timeout=1):
        proc = connect(iid, "-p", "aws", "--port", str(free_port()), "--lock-timeout", "0.5")
    assert f"another snoozebot run is acting on aws instance {iid}" in one_error_line(proc, 1)
    assert state(iid) == "stopped"


# -- bad input and faults -----------------------------------------------------------


def test_unknown_and_ambiguous_names(moto_ec2: str, no_leftovers: None) -> None:
    twins = sorted(launch(name="twin", stopped=False) for _ in range(2))
    unknown = connect("nobody", "-p", "aws", "--port", str(free_port()))
    assert "no aws instance has the id or name 'nobody'" in one_error_line(unknown, 1)
    ambiguous = connect("twin.snooze", "-p", "aws", "--port", str(free_port()))
    line = one_error_line(ambiguous, 2)
    assert f"2 aws instances are named 'twin' ({twins[0]}, {twins[1]})" in line
    assert history() == []


def test_a_terminated_instance_is_not_connected(moto_ec2: str, no_leftovers: None) -> None:
    iid = launch(stopped=False)
    boto3.client("ec2").terminate_instances(InstanceIds=[iid])
    proc = connect(iid, "-p", "aws", "--port", str(free_port()))
    assert f"instance {iid} is terminated" in one_error_line(proc, 1)
    assert history() == []


def test_a_port_that_never_opens_fails_after_the_wait_timeout(moto_ec2: str, no_leftovers: None) -> None:
    launch(stopped=False)
    port = free_port()
    started = time.monotonic()
    proc = connect("devbox", "-p", "aws", "--port", str(port), "--wait-timeout", "2")
    took = time.monotonic() - started
    line = one_error_line(proc, 1)
    assert f"not reachable within --wait-timeout 2s: 127.0.0.1:{port} did not accept a connection" in line
    assert 2 <= took < 20


def test_an_instance_that_never_runs_fails_after_the_wait_timeout(tmp_path: Path, no_leftovers: None) -> None:
    """The `memory` fixture provider's instance stays pending (its state file says so)."""
    state_file = tmp_path / "memory.json"
    state_file.write_text(json.dumps({"mem-0": {"state": "pending", "name": "slow", "tags": {}}}))
    proc = connect("slow.snooze", "-p", "memory", "-o", f"state_file={state_file}", "-o", "address=127.0.0.1",
                   "--port", str(free_port()), "--wait-timeout", "1")
    line = one_error_line(proc, 1)
    assert "not reachable within --wait-timeout 1s: instance mem-0 still PENDING" in line
    assert history() == []  # pending is on its way up: nothing to start


def test_a_connection_dropped_midstream_is_one_line(moto_ec2: str, no_leftovers: None) -> None:
    launch(stopped=False)
    with machine(drop_midstream) as box:
        proc = connect("devbox", "-p", "aws", "--port", str(box.port), data=b"x" * 100_000)
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert err.startswith("snoozebot: error: ") and err.count("\n") == 1, err
    assert f"connection to 127.0.0.1:{box.port} dropped" in err
    assert proc.stdout in (b"", b"partial answer")  # what arrived before the reset, if anything


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["devbox", "-p", "aws", "--port", "0"], "--port"),
        (["devbox", "-p", "aws", "--wait-timeout", "0"], "--wait-timeout"),
        (["devbox", "-p", "aws", "-o", "address="], "-o address=HOST must name a host"),
        (["dev\x01box", "-p", "aws"], "without control characters: dev\\x01box"),
        (["devbox"], "--provider"),
    ],
)
def test_usage_mistakes_are_exit_2(args: list[str], words: str) -> None:
    proc = connect(*args)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert words in err and "Traceback" not in err and proc.stdout == b""


@pytest.mark.parametrize(
    ("signum", "code", "line"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_ctrl_c_and_sigterm_end_the_relay_cleanly(
    moto_ec2: str, isolated_home: Path, signum: int, code: int, line: str
) -> None:
    launch(stopped=False)
    hold = threading.Event()
    with machine(lambda conn: hold.wait(30)) as box:
        proc = subprocess.Popen(
            [SNOOZEBOT, "connect", "devbox", "-p", "aws", "--port", str(box.port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        try:
            assert box.connected.wait(30), "connect never reached the machine"
            time.sleep(0.2)  # into the relay
            proc.send_signal(signum)
            out, err = proc.communicate(timeout=15)
        finally:
            hold.set()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == code, err.decode()
    assert err.decode() == f"snoozebot: error: {line}\n" and out == b""
    assert leftover_workers(isolated_home) == []


@pytest.mark.both_backends
def test_a_start_the_cloud_refuses_is_one_line(moto_ec2: str, no_leftovers: None) -> None:
    """moto's IAM checks switched on: the user may describe instances but not start them."""
    iam = boto3.client("iam")
    iam.create_user(UserName="viewer")
    iam.put_user_policy(
        UserName="viewer",
        PolicyName="describe-only",
        PolicyDocument='{"Version": "2012-10-17", "Statement": ['
        '{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}]}',
    )
    key = iam.create_access_key(UserName="viewer")["AccessKey"]
    iid = launch()
    def enforce_iam_after(count: bytes) -> None:
        request = urllib.request.Request(f"{moto_ec2}/moto-api/reset-auth", data=count, method="POST",
                                         headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request, timeout=10)

    enforce_iam_after(b"0")
    try:
        proc = subprocess.run(  # noqa: PLW1510 - the exit code is the result
            [SNOOZEBOT, "connect", iid, "-p", "aws", "--port", str(free_port())],
            capture_output=True, timeout=60,
            env={**os.environ, "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
                 "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]},
        )
    finally:
        enforce_iam_after(b"inf")  # moto's settings are per process: never leave IAM checks on
    assert f"cannot start {iid}" in one_error_line(proc, 1)
    assert state(iid) == "stopped"
    [row] = history()
    assert (row["source"], row["result"]) == ("wake", "error")


# -- the Instance fields behind the address -------------------------------------------


def test_providers_map_public_and_private_addresses() -> None:
    aws = from_description(
        {"InstanceId": "i-1", "State": {"Name": "running"}, "PublicIpAddress": "203.0.113.7",
         "PrivateIpAddress": "192.0.2.23"}, region="us-east-1")
    assert (aws.public_ip, aws.private_ip) == ("203.0.113.7", "192.0.2.23")
    gcp = to_instance(
        {"name": "vm", "zone": "zones/europe-west1-b", "status": "RUNNING",
         "networkInterfaces": [{"networkIP": "192.0.2.2", "accessConfigs": [{"natIP": "198.51.100.4"}]}]},
        "europe-west1-b")
    assert (gcp.public_ip, gcp.private_ip) == ("198.51.100.4", "192.0.2.2")
    bare = to_instance({"name": "vm", "zone": "zones/europe-west1-b", "status": "TERMINATED"}, None)
    assert (bare.public_ip, bare.private_ip) == (None, None)


def test_addresses_cross_the_worker_channel_checked() -> None:
    doc = {"id": "i-1", "provider": "aws", "state": "running", "public_ip": "203.0.113.7", "private_ip": None}
    parsed = parse_instance(doc, "aws")
    assert (parsed.public_ip, parsed.private_ip) == ("203.0.113.7", None)
    assert parsed.to_dict()["public_ip"] == "203.0.113.7"
    with pytest.raises(MalformedReply, match="public_ip"):
        parse_instance({**doc, "public_ip": ["203.0.113.7"]}, "aws")


# -- the real OpenSSH client through the ProxyCommand -----------------------------------


def _sshd() -> str | None:
    found = shutil.which("sshd") or ("/usr/sbin/sshd" if os.access("/usr/sbin/sshd", os.X_OK) else None)
    return found if found and shutil.which("ssh") and shutil.which("ssh-keygen") else None


@contextlib.contextmanager
def throwaway_sshd(directory: Path) -> Iterator[tuple[int, Path]]:
    """sshd on a loopback port with its own host key, taking one user key; yields (port, user key)."""
    sshd = _sshd()
    assert sshd is not None
    for key in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(directory / key)], check=True)
    shutil.copy(directory / "user_key.pub", directory / "authorized_keys")
    port = free_port()
    config = directory / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {directory / 'host_key'}\n"
        f"AuthorizedKeysFile {directory / 'authorized_keys'}\nPidFile {directory / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "PermitRootLogin prohibit-password\n"
    )
    if os.getuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    server = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else "sshd died"
            assert time.monotonic() < deadline, "sshd did not listen"
            time.sleep(0.1)
        yield port, directory / "user_key"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.skipif(_sshd() is None, reason="OpenSSH's sshd is not installed (scripts/test installs it as root)")
def test_ssh_through_the_proxycommand_wakes_the_machine(moto_ec2: str, tmp_path: Path, no_leftovers: None) -> None:
    iid = launch(name="devbox")
    with throwaway_sshd(tmp_path) as (port, user_key):
        ssh_config = tmp_path / "ssh_config"
        ssh_config.write_text(  # the block of docs/connect.md, plus what a throwaway server needs
            "Host *.snooze\n"
            f"    ProxyCommand {SNOOZEBOT} connect %h -p aws --port %p\n"
            f"    Port {port}\n"
            f"    User {getpass.getuser()}\n"
            f"    IdentityFile {user_key}\n"
            "    IdentitiesOnly yes\n"
            f"    UserKnownHostsFile {tmp_path / 'known_hosts'}\n"
            "    StrictHostKeyChecking accept-new\n"
            "    BatchMode yes\n"
        )
        proc = subprocess.run(  # noqa: PLW1510 - the exit code is the result
            ["ssh", "-F", str(ssh_config), "devbox.snooze", "echo awake; head -c 3000000 /dev/zero | wc -c"],
            capture_output=True, text=True, timeout=90,
        )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["awake", "3000000"]
    assert state(iid) == "running"
    [row] = history()
    assert (row["source"], row["action"], row["instance"]) == ("wake", "start", iid)


# -- REST: a link or a button wakes and waits ---------------------------------------------


def test_rest_start_with_wait_running_answers_once_it_runs(moto_ec2: str, tmp_path: Path, isolated_home: Path) -> None:
    from test_agent_harness import running_agent

    iid = launch()
    with running_agent(isolated_home, tmp_path / "config.toml", timeout=30) as agent:
        with agent.client() as admin:
            assert admin.post("/api/plugins/load", json={"plugin": "aws"}).status_code == 200
        with agent.client("operator") as client:
            woken = client.post(f"/api/providers/aws/instances/{iid}/start", params={"wait": "running"})
            bad = client.post(f"/api/providers/aws/instances/{iid}/start", params={"wait": "stopped"})
            boto3.client("ec2").stop_instances(InstanceIds=[iid])
            plain = client.post(f"/api/providers/aws/instances/{iid}/start")
    assert woken.status_code == 200, woken.text
    answer = woken.json()
    assert (answer["ok"], answer["state"], answer["instance"]["state"]) == (True, "running", "running")
    assert "public_ip" in answer["instance"] and "private_ip" in answer["instance"]
    assert plain.json()["state"] == "pending"  # without the wait: as right after the request
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    assert state(iid) == "running"


def test_azure_addresses_come_from_the_network_interface(isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake ARM's VM is addressed on loopback: connect wakes it and reaches its public address."""
    from fake_arm import SUBSCRIPTION, FakeArm

    for key in ("AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(key, raising=False)
    with FakeArm() as arm, machine(echo) as box:
        arm.add_vm("dev-rg", "devbox", power="deallocated", public_ip="127.0.0.1", private_ip="127.0.0.2")
        arm.add_vm("dev-rg", "bare", power="running")
        options = [f"endpoint={arm.endpoint}", "credentials=anonymous", f"subscription_id={SUBSCRIPTION}"]
        opts = ["-p", "azure", *(arg for option in options for arg in ("-o", option))]
        proc = connect("devbox.snooze", *opts, "--port", str(box.port), data=PAYLOAD[:100_000])
        again = connect("devbox.snooze", *opts, "--port", str(box.port), data=b"running now\n")
        info = run_cli("instance", "info", "dev-rg/devbox", *opts, "--json")
        bare = run_cli("instance", "info", "dev-rg/bare", *opts, "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == PAYLOAD[:100_000]
    assert (again.returncode, again.stdout) == (0, b"running now\n"), again.stderr.decode()
    assert (info.json()["public_ip"], info.json()["private_ip"]) == ("127.0.0.1", "127.0.0.2")
    assert (bare.json()["public_ip"], bare.json()["private_ip"]) == (None, None)  # no interface: no extra reads
    assert [(r["source"], r["instance"]) for r in history()] == [("wake", "dev-rg/devbox")]
    assert leftover_workers(isolated_home) == []
