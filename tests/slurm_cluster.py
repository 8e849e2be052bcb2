"""A real single-node SLURM cluster on this machine, for testing cluster execution.

Recipe (measured on this project's machine): /work/shared/notes/slurm-single-node.md.
Debian's `slurm-wlm` + `munge`, installed with apt when missing. munged, slurmctld and
slurmd run in the foreground as our children, so they are stopped by PID. Their state,
spool, pid and log files live in a scratch folder. Only slurm.conf has to be at
/etc/slurm/slurm.conf: the executor plugin's job-step helper strips every SLURM_*
variable (SLURM_CONF included) before its inner `srun`. A slurm.conf that was there
before is put back on stop.

`SlurmCluster.start()` raises `ClusterUnavailable` (the test skips with that reason) only
when the machine cannot have a cluster: not root, no apt, install failed (no network), or
a SLURM/munge daemon not started by us is already running. Once the daemons are
installed, a cluster that does not come up is an error, not a skip.

Usable by hand as well:
    python tests/slurm_cluster.py start /tmp/slurm   # prints the PIDs, leaves it running
    python tests/slurm_cluster.py stop /tmp/slurm    # stops the PIDs recorded there
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SLURM_CONF = Path("/etc/slurm/slurm.conf")
PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd")
CLIENTS = ("sbatch", "squeue", "srun", "sinfo", "scancel", "scontrol")
PARTITION = "debug"
MARKER = "# written by mer tests/slurm_cluster.py"


class ClusterUnavailable(Exception):
    """This machine cannot host a throwaway cluster; the message says why."""


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def _running(name: str) -> list[str]:
    """PIDs of processes with exactly this name (detection only; we never signal by name)."""
    found = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True)
    return found.stdout.split()


def ensure_installed(timeout: int = 300) -> None:
    """apt-get install slurm-wlm munge when a binary is missing (root and apt needed)."""
    if all(Path(daemon).exists() for daemon in DAEMONS) and all(map(shutil.which, CLIENTS)):
        return
    if os.geteuid() != 0:
        raise ClusterUnavailable("SLURM is not installed and installing it needs root "
                                 f"(running as uid {os.geteuid()})")
    if shutil.which("apt-get") is None:
        raise ClusterUnavailable("SLURM is not installed and there is no apt-get to install it")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]):
        try:
            result = subprocess.run(command, capture_output=True, text=True, env=env,
                                    timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ClusterUnavailable(f"`{' '.join(command)}` took over {timeout} s "
                                     "(no network to the Debian mirror?)") from None
        if result.returncode != 0:
            raise ClusterUnavailable(f"`{' '.join(command)}` failed (no network to the Debian "
                                     f"mirror?):\n{(result.stdout + result.stderr)[-1500:]}")
    missing = [d for d in DAEMONS if not Path(d).exists()] + [c for c in CLIENTS if not shutil.which(c)]
    if missing:
        raise ClusterUnavailable(f"installed {PACKAGES} but still missing: {missing}")


def node_line() -> str:
    """This machine's NodeName line as slurmd detects it (CPUs, sockets, RealMemory)."""
    detected = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    line = next(l for l in detected.splitlines() if l.startswith("NodeName="))
    return line + " State=UNKNOWN"


def slurm_conf(scratch: Path, host: str, node: str) -> str:
    ctld_port, slurmd_port = _free_port(), _free_port()
    return f"""{MARKER}; state in {scratch}
ClusterName=mertest
SlurmctldHost={host}
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={scratch}/state
SlurmdSpoolDir={scratch}/spool
SlurmctldPidFile={scratch}/slurmctld.pid
SlurmdPidFile={scratch}/slurmd.pid
SlurmctldLogFile={scratch}/slurmctld.log
SlurmdLogFile={scratch}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={scratch}/jobcomp.log
# squeue status polling needs finished jobs kept >= 3 x the plugin's first status delay
MinJobAge=300
DefMemPerCPU=1000
ReturnToService=2
SchedulerParameters=sched_interval=1
{node}
PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


class SlurmCluster:
    """munged (unless one already runs), slurmctld and slurmd, started and stopped by PID."""

    def __init__(self, scratch: Path):
        self.scratch = Path(scratch)
        self.pids: dict[str, int] = {}
        self._procs: list[subprocess.Popen] = []
        self._saved_conf: str | None = None

    # -- start ---------------------------------------------------------------------
    def start(self, timeout: float = 60) -> "SlurmCluster":
        if os.geteuid() != 0:
            raise ClusterUnavailable(f"a throwaway SLURM cluster needs root (uid {os.geteuid()})")
        ensure_installed()
        for name in ("slurmctld", "slurmd"):
            if _running(name):
                raise ClusterUnavailable(f"a {name} not started by this test is already running "
                                         f"(pid {' '.join(_running(name))}); not touching it")
        if SLURM_CONF.exists() and MARKER not in SLURM_CONF.read_text():
            self._saved_conf = SLURM_CONF.read_text()
        for sub in ("state", "spool"):
            (self.scratch / sub).mkdir(parents=True, exist_ok=True)
        host = socket.gethostname().split(".")[0]
        try:
            self._start_munge()
            SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
            SLURM_CONF.write_text(slurm_conf(self.scratch, host, node_line()))
            self._spawn("slurmctld", ["slurmctld", "-D", "-i"])
            self._spawn("slurmd", ["slurmd", "-D"])
            self._wait_idle(timeout)
        except BaseException:
            self.stop()
            raise
        (self.scratch / "pids.json").write_text(json.dumps(self.pids))
        return self

    def _spawn(self, name: str, command: list[str], **user) -> None:
        out = open(self.scratch / f"{name}.out", "w")
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, **user)
        out.close()
        self._procs.append(proc)
        self.pids[name] = proc.pid

    def _start_munge(self) -> None:
        if subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode == 0:
            return  # a working munged is already there: use it, leave it running
        if _running("munged"):
            raise ClusterUnavailable(f"a munged not started by this test runs (pid "
                                     f"{' '.join(_running('munged'))}) but does not answer")
        run_dir = Path("/run/munge")
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        # as the munge user directly (not via runuser), so the PID we keep is munged's own;
        # it logs to /var/log/munge (the scratch folder may not be readable by that user)
        self._spawn("munged", ["/usr/sbin/munged", "--foreground"],
                    user="munge", group="munge", extra_groups=[])
        deadline = time.monotonic() + 15
        while subprocess.run("munge -n | unmunge", shell=True, capture_output=True).returncode:
            if time.monotonic() > deadline or self._procs[-1].poll() is not None:
                raise RuntimeError(f"munged did not start:\n{_tail(self.scratch / 'munged.out')}\n"
                                   f"{_tail(Path('/var/log/munge/munged.log'))}")
            time.sleep(0.2)

    def _wait_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            for proc in self._procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[0]} exited ({proc.returncode}):\n"
                                       f"{self.logs()}")
            state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True,
                                   text=True).stdout.strip()
            if state == "idle":
                return
            time.sleep(0.5)
        raise RuntimeError(f"the node is not idle after {timeout} s (sinfo: {state!r}):\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{_tail(self.scratch / name)}"
                         for name in ("slurmctld.log", "slurmd.log", "slurmctld.out", "slurmd.out"))

    # -- evidence ------------------------------------------------------------------
    def completed_jobs(self) -> list[dict[str, str]]:
        """slurmctld's job-completion records (jobcomp/filetxt): JobId, JobName, JobState, ..."""
        path = self.scratch / "jobcomp.log"
        if not path.exists():
            return []
        records = []
        for line in path.read_text().splitlines():
            records.append(dict(field.split("=", 1) for field in line.split() if "=" in field))
        return records

    # -- stop ----------------------------------------------------------------------
    def stop(self) -> None:
        """Cancel what is left on this (private) cluster, then stop our daemons by PID."""
        if "slurmctld" in self.pids and self._alive(self.pids["slurmctld"]):
            subprocess.run(["scancel", "--full", f"--partition={PARTITION}"],
                           capture_output=True, timeout=15)
            deadline = time.monotonic() + 15  # let slurmd end the job steps it runs
            while time.monotonic() < deadline and subprocess.run(
                    ["squeue", "-h", "-t", "running,completing"], capture_output=True,
                    text=True, timeout=15).stdout.strip():
                time.sleep(0.5)
        for name in ("slurmd", "slurmctld", "munged"):
            pid = self.pids.get(name)
            if pid is not None:
                _terminate(pid)
        for proc in self._procs:
            try:
                proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                pass
        if SLURM_CONF.exists() and MARKER in SLURM_CONF.read_text():
            SLURM_CONF.unlink()
        if self._saved_conf is not None:
            SLURM_CONF.write_text(self._saved_conf)

    @staticmethod
    def _alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _terminate(pid: int, grace: float = 10) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)  # reap our own child
        except ChildProcessError:
            done = 0 if SlurmCluster._alive(pid) else pid
        if done == pid or not SlurmCluster._alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print(__doc__)
        return 2
    scratch = Path(argv[2]).resolve()
    if argv[1] == "start":
        try:
            cluster = SlurmCluster(scratch).start()
        except ClusterUnavailable as reason:
            print(f"cannot start a cluster here: {reason}", file=sys.stderr)
            return 1
        print(json.dumps(cluster.pids))
        return 0
    for name, pid in json.loads((scratch / "pids.json").read_text()).items():
        _terminate(pid)
    if SLURM_CONF.exists() and MARKER in SLURM_CONF.read_text():
        SLURM_CONF.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
