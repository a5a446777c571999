"""tests/bench/benchlib.py: helpers shared by the benchmark scripts in tests/bench/.

Used by rpc-latency and storage-io (import it after putting tests/bench/ on
sys.path). It holds what both need to run Debian's Linux kernel as a
baseline guest (docs/performance.md, "Method"):

  * build_kernel_cache(): the kernel image, its config and a few driver
    modules (KERNEL_MODULES) of the package behind linux-image-amd64, taken
    from the .deb with apt-get download + dpkg-deb (nothing is installed) and
    cached in build/bench/linux-guest/;
  * musl_static(), build_initramfs(): static test programs and a gzipped cpio
    initramfs holding Debian's static busybox, the programs, modules and an
    /init;
  * Guest: one Linux guest in QEMU with its serial console on a pipe, read by
    a thread (every line also goes to a log file); expect() waits for a line,
    command() sends a console command and waits for "<prefix>: done rc=N";
  * small things: BenchError, Interrupted, run(), render() for tables,
    host_info(), signal handling, rack_down().
"""

import os
import platform
import queue
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
RACK = os.path.join(ROOT, "scripts", "rack")
KERNEL_CACHE = os.path.join(BUILD, "bench", "linux-guest")

# The QEMU settings of a rack node (scripts/rack up --smp 2 --mem 512), for
# the Linux guests; callers add -name, -kernel/-initrd/-append and devices.
SMP, MEM = 2, 512
QEMU_LINUX = [
    "qemu-system-x86_64",
    "-M", "q35", "-smp", str(SMP), "-m", "%dM" % MEM,
    "-nodefaults", "-display", "none", "-vga", "none",
    "-monitor", "none", "-parallel", "none",
    "-no-reboot",
    "-serial", "stdio",
]
LINUX_APPEND = "console=ttyS0 panic=-1 quiet"

# Driver modules of Debian's kernel that the benchmarks load, by name, with
# their path in the package. An /init loads the ones it needs in the order of
# module_order() (each after the modules named in its depends= field).
KERNEL_MODULES = {
    "virtio_ring": "kernel/drivers/virtio/virtio_ring.ko",
    "virtio": "kernel/drivers/virtio/virtio.ko",
    "virtio_pci_modern_dev": "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
    "virtio_pci_legacy_dev": "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
    "virtio_pci": "kernel/drivers/virtio/virtio_pci.ko",
    "failover": "kernel/net/core/failover.ko",
    "net_failover": "kernel/drivers/net/net_failover.ko",
    "virtio_net": "kernel/drivers/net/virtio_net.ko",
    "e1000": "kernel/drivers/net/ethernet/intel/e1000/e1000.ko",
    "virtio_blk": "kernel/drivers/block/virtio_blk.ko",
}
VIRTIO_PCI = ["virtio_ring", "virtio", "virtio_pci_modern_dev", "virtio_pci_legacy_dev",
              "virtio_pci"]


class BenchError(Exception):
    """Something failed to run; the message is printed, then exit 1."""


class Interrupted(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def run(cmd, timeout=None, **kw):
    """Runs cmd; returns its output (stdout + stderr); raises BenchError if it fails."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout, **kw)
    if p.returncode != 0:
        raise BenchError("command failed (status %d): %s\n%s" % (p.returncode, " ".join(cmd),
                                                                 p.stdout.rstrip()))
    return p.stdout


# ---------------------------------------------------------------- Linux guest kernel

def resolve_kernel_package():
    out = subprocess.run(["apt-cache", "depends", "linux-image-amd64"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    m = re.search(r"Depends:\s*(linux-image-[0-9][^\s]*)", out)
    if not m:
        raise BenchError("cannot resolve the kernel package behind linux-image-amd64 "
                         "(apt-cache depends found nothing; run 'apt-get update' first)")
    return m.group(1)


def kernel_path(what):
    """Path in the cache of "vmlinuz", "config", or a module name of KERNEL_MODULES."""
    if what in KERNEL_MODULES:
        return os.path.join(KERNEL_CACHE, "modules", what + ".ko")
    return os.path.join(KERNEL_CACHE, what)


def build_kernel_cache(force, prog):
    """vmlinuz, config and every module of KERNEL_MODULES in KERNEL_CACHE (built on
    first use or with force); returns the version stamp."""
    stamp_path = os.path.join(KERNEL_CACHE, "VERSION")
    want = [kernel_path("vmlinuz"), kernel_path("config")] + [kernel_path(m) for m in KERNEL_MODULES]
    if not force and os.path.isfile(stamp_path) and all(os.path.isfile(p) for p in want):
        with open(stamp_path) as f:
            return f.read().strip()
    for tool in ("apt-get", "apt-cache", "dpkg-deb", "tar"):
        if not shutil.which(tool):
            raise BenchError("%s missing (run scripts/setup)" % tool)
    pkg = resolve_kernel_package()
    log("%s: building the Linux guest kernel cache in %s from %s"
        % (prog, os.path.relpath(KERNEL_CACHE, ROOT), pkg))
    os.makedirs(KERNEL_CACHE, exist_ok=True)
    if os.path.exists(stamp_path):
        os.unlink(stamp_path)   # written last: the cache is complete only with it
    with tempfile.TemporaryDirectory(prefix="kernel.", dir=KERNEL_CACHE) as tmp:
        os.chmod(tmp, 0o755)
        run(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", pkg], cwd=tmp)
        debs = [d for d in os.listdir(tmp) if d.endswith(".deb")]
        if len(debs) != 1:
            raise BenchError("apt-get download %s left %d .deb files" % (pkg, len(debs)))
        deb = os.path.join(tmp, debs[0])
        version = run(["dpkg-deb", "-f", deb, "Version"]).strip()
        # Only the kernel image, its config and the few modules: the whole
        # package would unpack ~400 MB of modules.
        patterns = ["./boot/vmlinuz-*", "./boot/config-*"] + \
            ["./lib/modules/*/" + m for m in KERNEL_MODULES.values()]
        fsys = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE)
        tar = subprocess.run(["tar", "-x", "-C", tmp, "--wildcards"] + patterns, stdin=fsys.stdout)
        fsys.stdout.close()
        if fsys.wait() != 0 or tar.returncode != 0:
            raise BenchError("extracting the kernel and modules from %s failed" % deb)
        vmlinuz = [v for v in os.listdir(os.path.join(tmp, "boot")) if v.startswith("vmlinuz-")]
        if len(vmlinuz) != 1:
            raise BenchError("%s holds %d boot/vmlinuz-* files" % (deb, len(vmlinuz)))
        kver = vmlinuz[0][len("vmlinuz-"):]
        os.makedirs(os.path.join(KERNEL_CACHE, "modules"), exist_ok=True)
        for name, m in KERNEL_MODULES.items():
            shutil.move(os.path.join(tmp, "lib", "modules", kver, m), kernel_path(name))
        shutil.move(os.path.join(tmp, "boot", "config-" + kver), kernel_path("config"))
        shutil.move(os.path.join(tmp, "boot", vmlinuz[0]), kernel_path("vmlinuz"))
        stamp = "%s %s (%s)" % (pkg, version, vmlinuz[0])
        with open(stamp_path, "w") as f:
            f.write(stamp + "\n")
    log("%s: kernel cache ready: %s" % (prog, stamp))
    return stamp


# ---------------------------------------------------------------- initramfs

def is_static_elf(path):
    """True if path is an ELF64 file without a PT_INTERP program header."""
    with open(path, "rb") as f:
        hdr = f.read(64)
        if len(hdr) < 64 or hdr[:4] != b"\x7fELF" or hdr[4] != 2:
            return False
        phoff, = struct.unpack_from("<Q", hdr, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", hdr, 0x36)
        f.seek(phoff)
        ph = f.read(phentsize * phnum)
    return all(struct.unpack_from("<I", ph, i * phentsize)[0] != 3 for i in range(phnum))


def musl_static(srcs, out, flags=()):
    """Compiles C sources into a static musl binary."""
    if not shutil.which("musl-gcc"):
        raise BenchError("musl-gcc missing (install musl-tools; run scripts/setup)")
    if isinstance(srcs, str):
        srcs = [srcs]
    run(["musl-gcc", "-static", "-O2", "-Wall", "-Wextra"] + list(flags) + ["-o", out] + list(srcs))
    return out


def build_initramfs(out, programs, modules, init_text, workdir):
    """Writes the gzipped cpio archive out: /bin/busybox (Debian's static one),
    each program of programs (a dict name -> host path) in /bin, the named
    modules of KERNEL_MODULES in /lib/modules, and init_text as /init."""
    for tool in ("cpio", "gzip"):
        if not shutil.which(tool):
            raise BenchError("%s missing (install cpio; run scripts/setup)" % tool)
    busybox = "/bin/busybox"
    if not os.path.isfile(busybox) or not is_static_elf(busybox):
        raise BenchError("a static /bin/busybox is needed: install busybox-static (run scripts/setup)")
    with tempfile.TemporaryDirectory(prefix="initramfs.", dir=workdir) as ir:
        for d in ("bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "lib/modules"):
            os.makedirs(os.path.join(ir, d))
        shutil.copy(busybox, os.path.join(ir, "bin", "busybox"))
        for name, path in programs.items():
            shutil.copy(path, os.path.join(ir, "bin", name))
        for m in modules:
            shutil.copy(kernel_path(m), os.path.join(ir, "lib", "modules"))
        with open(os.path.join(ir, "init"), "w") as f:
            f.write(init_text)
        os.chmod(os.path.join(ir, "init"), 0o755)
        tmp_out = out + ".tmp"
        with open(tmp_out, "wb") as outf:
            names = subprocess.run("find . | LC_ALL=C sort", shell=True, cwd=ir,
                                   stdout=subprocess.PIPE, check=True).stdout
            cpio = subprocess.Popen(["cpio", "-o", "-H", "newc", "-R", "0:0", "--quiet"], cwd=ir,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            gz = subprocess.Popen(["gzip", "-6n"], stdin=cpio.stdout, stdout=outf)
            cpio.stdout.close()
            cpio.communicate(names)
            if cpio.returncode != 0 or gz.wait() != 0:
                raise BenchError("building the initramfs failed")
        os.replace(tmp_out, out)
    return out


# ---------------------------------------------------------------- Linux guests

class Guest:
    """A Linux guest booted with -kernel/-initrd; its serial console is a pipe.

    qemu_args: what follows QEMU_LINUX besides -name/-kernel/-initrd/-append
    (devices). ns: run QEMU in that network namespace. tap: create this tap in
    ns, enslave it to bridge, delete it at stop(). prefix: the /init's marker,
    "<prefix>: done rc=N" ends a command."""

    def __init__(self, name, initrd, append, qemu_args, log_path, ns=None, tap=None,
                 bridge="legobr0", prefix="pp", qemu_name=None):
        self.name, self.ns, self.tap, self.prefix = name, ns, tap, prefix
        self.log_path = log_path
        self.lines = queue.Queue()
        self.proc = None
        if tap:
            run(["ip", "-n", ns, "tuntap", "add", "dev", tap, "mode", "tap"])
            run(["ip", "-n", ns, "link", "set", tap, "master", bridge])
            run(["ip", "-n", ns, "link", "set", tap, "up"])
        self.cmd = QEMU_LINUX + [
            "-name", qemu_name or name,
            "-kernel", kernel_path("vmlinuz"), "-initrd", initrd,
            "-append", "%s %s" % (LINUX_APPEND, append) if append else LINUX_APPEND,
        ] + list(qemu_args)
        self.logf = open(self.log_path, "w")
        self.proc = subprocess.Popen((["ip", "netns", "exec", ns] if ns else []) + self.cmd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        buf = b""
        while True:
            data = self.proc.stdout.read1(65536)
            if not data:
                break
            buf += data
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                line = raw.decode("latin-1").replace("\r", "")
                self.logf.write(line + "\n")
                self.logf.flush()
                self.lines.put(line)
        self.lines.put(None)    # EOF: QEMU is gone

    def expect(self, pattern, timeout):
        """Lines up to the first that matches pattern (a regex); raises on timeout/EOF/panic."""
        rx = re.compile(pattern)
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError("Linux guest %s: no line matching /%s/ within %g s\n%s"
                                 % (self.name, pattern, timeout, self.tail()))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.lines.put(None)    # later calls see the EOF too
                raise BenchError("Linux guest %s: QEMU exited (status %s) while waiting for /%s/\n%s"
                                 % (self.name, self.proc.poll(), pattern, self.tail()))
            seen.append(line)
            if "Kernel panic" in line:
                raise BenchError("Linux guest %s panicked: %s\n%s" % (self.name, line, self.tail()))
            m = rx.search(line)
            if m:
                return m, seen

    def send(self, line):
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise BenchError("Linux guest %s: cannot write to its console: %s" % (self.name, e))

    def command(self, line, timeout):
        """Run one console command; returns the lines it printed; raises if rc != 0."""
        self.send(line)
        m, seen = self.expect(r"^%s: done rc=(\d+)" % re.escape(self.prefix), timeout)
        if m.group(1) != "0":
            raise BenchError("Linux guest %s: '%s' failed (rc %s):\n%s"
                             % (self.name, line, m.group(1), "\n".join(seen[-20:])))
        return seen

    def tail(self, n=25):
        try:
            with open(self.log_path) as f:
                lines = f.read().splitlines()[-n:]
        except OSError:
            lines = []
        return ("---- last %d lines of %s ----\n" % (n, os.path.relpath(self.log_path, ROOT)) +
                "\n".join(lines) + "\n---- end ----")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.send("poweroff")
                self.proc.wait(timeout=5)
            except (BenchError, subprocess.TimeoutExpired):
                pass
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.reader.join(timeout=2)
        self.logf.close()
        if self.tap:
            subprocess.run(["ip", "-n", self.ns, "link", "del", self.tap],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------- misc

def rack_down(rack):
    subprocess.run([RACK, "down", "--name", rack], stdout=subprocess.DEVNULL,
                   stderr=subprocess.STDOUT)


def render(head, rows, left=(0,)):
    """Prints a table: columns in left are left-aligned, the others right-aligned."""
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]

    def line(r):
        return "  ".join(str(c).ljust(widths[i]) if i in left else str(c).rjust(widths[i])
                         for i, c in enumerate(r)).rstrip()
    print(line(head))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))


def host_info():
    """'HOST, N CPUs, CPU MODEL, QEMU VERSION' for the header of a report."""
    qemu_version = subprocess.run(["qemu-system-x86_64", "--version"], stdout=subprocess.PIPE,
                                  text=True).stdout.splitlines()[0]
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return "%s, %d CPUs, %s, %s" % (platform.node(), os.cpu_count(), cpu, qemu_version)


TERM_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def trap_signals():
    """Ctrl-C, SIGTERM and SIGHUP raise Interrupted, so that cleanup runs."""
    def on_signal(signum, frame):
        raise Interrupted(signal.Signals(signum).name)
    for s in TERM_SIGNALS:
        signal.signal(s, on_signal)


def ignore_signals():
    """For the cleanup itself: it must not be interrupted half-way."""
    for s in TERM_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
