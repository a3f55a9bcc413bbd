"""Run a student's code in a sandbox: bubblewrap (Debian's `bwrap`), an unprivileged user, limits.

    python tools/sandbox.py kernel CONNECTION_FILE     start an IPython kernel inside the sandbox
    python tools/sandbox.py run [--cwd DIR] -- CMD...  run any command inside it (tests, debugging)

nbgrader starts the kernel of every notebook it executes through the
kernelspec ``dlcourse-sandbox`` (``tools/grade.py`` writes it; nbgrader_config.py
selects it), whose command line is the first form. What the code inside sees:

    /usr, the Python install, the course's .venv     read-only (the interpreter and its packages)
    dlcourse/, pyproject.toml, datasets/             read-only (the package and the data it loads)
    the notebook's folder                            read-only (its own copy of the submission)
    /tmp (HOME)                                      an empty tmpfs of TMP_MB, gone when it exits
    the kernel's ZeroMQ socket folder                read-write (how nbgrader talks to it)

and nothing else: not solutions/, not the gradebook, not other submissions
or feedback, not tools/ or nbgrader_config.py. It runs as user ``nobody``
(uid 65534) with no capabilities (when grading as root; otherwise as the
grading user inside a user namespace), without network (its own network
namespace: the kernel talks to nbgrader over Unix sockets, ZeroMQ's ``ipc``
transport), in its own PID namespace (every process it starts dies with
it), with limits on memory, CPU time, processes and file size.
"""
import argparse
import importlib.util
import json
import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path

NOBODY = 65534
KERNEL_NAME = "dlcourse-sandbox"
MEMORY_MB = 12288         # address space per process (chapter 03 with torch and MNIST maps about 4 GB)
CPU_SECONDS = 900         # CPU time per process: a whole chapter under autograde takes well under 300 s
PROCESSES = 256           # processes and threads of the sandbox user (numpy's BLAS threads count)
FILE_MB = 256             # largest file it may write (into its tmpfs)
TMP_MB = 512              # size of its /tmp
# What the notebook may know of the grader's environment: nbgrader's flag (the chapters train briefly
# under it), the locale, and the thread counts of the numerical libraries.
PASSED_ON = ("NBGRADER_EXECUTION", "LANG", "LC_ALL", "PYTHONHASHSEED",
             "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def python_paths():
    """The folders the interpreter needs: the install it was built from and the course's venv."""
    return sorted({os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)})


def readonly_paths(cwd):
    """Everything the sandbox may read: the interpreter, the package, its data, the notebook's folder."""
    package = Path(importlib.util.find_spec("dlcourse").submodule_search_locations[0]).resolve()
    paths = python_paths() + [str(package), str(cwd), str(data_folder())]
    if (package.parent / "pyproject.toml").is_file():       # a clone: the package's metadata
        paths.append(str(package.parent / "pyproject.toml"))
    return [p for p in paths if os.path.exists(p)]


def data_folder():
    """The grader's dlcourse.data cache folder (datasets/ of a clone, $DLCOURSE_DATA, ...), resolved."""
    from dlcourse.data import data_root

    return data_root().resolve()


def prepare_data():
    """Unpack MNIST and Fashion-MNIST into their .npz caches, outside the sandbox, where they are missing.

    Inside, the data folder is read-only, and torchvision cannot unpack the .gz
    files there: without the cache a chapter would fall back to the 8x8 digits.
    """
    from dlcourse import data

    for name, loader in (("MNIST", data.load_mnist), ("FashionMNIST", data.load_fashion_mnist)):
        raw = data_folder() / name / "raw"
        unpacked = (raw.parent / data.CACHE_FILE).is_file()
        if not unpacked and all((raw / file).is_file() for file in data.RAW_FILES):
            loader()    # torchvision finds the .gz files (no download) and unpacks them


def bwrap_command(command, cwd, readonly=(), writable=(), overlays=()):
    """The bwrap command line that runs ``command`` in ``cwd`` inside the sandbox.

    ``overlays``: (source, target) pairs bound read-only over ``target`` last, so they hide what is
    there (tools/verdict.py: a stripped copy of dlcourse over the package, stubs over torch).
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SystemExit("tools/sandbox.py needs bubblewrap: `make setup` installs it "
                         "(apt-get install bubblewrap)")
    args = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session",
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
            "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--tmpfs", "/dev/shm",                    # joblib's shared memory
            "--size", str(TMP_MB << 20), "--perms", "1777", "--tmpfs", "/tmp",
            "--perms", "0755", "--dir", "/etc"]                          # else 0700: nobody could not enter
    for name in ("ld.so.cache", "passwd", "group", "nsswitch.conf", "localtime", "fonts"):
        if os.path.exists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    # matplotlib's font list, built once by the grader: rebuilding it in every kernel takes seconds.
    fonts = sorted(Path(os.environ.get("MPLCONFIGDIR") or Path.home() / ".cache" / "matplotlib")
                   .glob("fontlist-*.json"))
    args += ["--perms", "0777", "--dir", "/tmp/matplotlib"]
    for font_list in fonts[-1:]:
        args += ["--ro-bind", str(font_list), f"/tmp/matplotlib/{font_list.name}"]
    made = {"/", "/usr", "/tmp", "/proc", "/dev", "/etc"}
    for kind, paths in (("--ro-bind", readonly), ("--bind", writable)):
        for path in paths:
            args += _parents(path, made) + [kind, path, path]
    for source, target in overlays:
        args += _parents(target, made) + ["--ro-bind", source, target]
    args += ["--clearenv", "--chdir", str(cwd)]
    for name, value in sandbox_environment().items():
        args += ["--setenv", name, value]
    if os.geteuid() == 0:
        # bwrap as root keeps CAP_SETUID/CAP_SETGID only for setpriv, which drops to nobody for good.
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
                 "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    else:
        args += ["--unshare-user", "--"]
    return args + list(command)


def sandbox_environment():
    """The environment inside: a few variables passed on (none of the grader's secrets), HOME in /tmp.

    Not JPY_PARENT_PID: that process id means nothing in the sandbox's PID namespace (the kernel
    would think its parent gone); bwrap's --die-with-parent ends the kernel with its parent instead.
    """
    env = {"HOME": "/tmp", "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib", "MPLBACKEND": "agg",
           "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"])}
    for name in PASSED_ON:
        if name in os.environ:
            env[name] = os.environ[name]
    env["DLCOURSE_DATA"] = str(data_folder())    # the grader's data, bound read-only at the same path
    return env


def _parents(path, made):
    """bwrap options that create the missing parent folders of ``path``, traversable by nobody."""
    options = []
    for parent in reversed(Path(path).parents):
        if str(parent) not in made:
            options += ["--perms", "0755", "--dir", str(parent)]
            made.add(str(parent))
    return options


def kernelspec_path():
    """A fresh folder holding the kernelspec ``dlcourse-sandbox``, to put first on JUPYTER_PATH.

    Its kernel runs this file's ``kernel`` mode with this interpreter, and is
    interrupted by a message (the kernel is in its own session: a signal to
    nbgrader's process group would not reach it).
    """
    root = Path(tempfile.mkdtemp(prefix="dlcourse-kernelspec-"))
    folder = root / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True)
    spec = {"argv": [sys.executable, str(Path(__file__).resolve()), "kernel", "{connection_file}"],
            "display_name": "Python 3 (dlcourse sandbox, for grading)", "language": "python",
            "interrupt_mode": "message", "metadata": {"debugger": False}}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))
    return str(root)


def socket_prefix():
    """Where a kernel's ZeroMQ ipc sockets go: a fresh folder of this process (KernelManager.ip)."""
    return os.path.join(tempfile.mkdtemp(prefix="dlcourse-kernel-"), "kernel")


def set_limits():
    """Memory, CPU time, processes and file size, inherited by everything the sandbox starts."""
    limits = {resource.RLIMIT_AS: MEMORY_MB << 20, resource.RLIMIT_CPU: CPU_SECONDS,
              resource.RLIMIT_NPROC: PROCESSES, resource.RLIMIT_FSIZE: FILE_MB << 20,
              resource.RLIMIT_CORE: 0}
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))


def kernel(connection_file):
    """Replace this process by an IPython kernel in the sandbox, on the sockets of ``connection_file``."""
    with open(connection_file) as f:
        info = json.load(f)
    if info.get("transport") != "ipc":
        raise SystemExit("the sandboxed kernel has no network: nbgrader must use the ipc transport "
                         "(c.KernelManager.transport = 'ipc' in nbgrader_config.py)")
    sockets = os.path.dirname(os.path.abspath(info["ip"]))
    os.chmod(sockets, 0o777)              # nobody creates its sockets there
    os.chmod(connection_file, 0o644)      # and reads the key that signs the messages
    cwd = os.getcwd()
    command = [sys.executable, "-m", "ipykernel_launcher", "-f", os.path.abspath(connection_file)]
    readonly = readonly_paths(cwd) + [os.path.abspath(connection_file)]
    prepare_data()
    args = bwrap_command(command, cwd, readonly=readonly, writable=[sockets])
    set_limits()
    os.execv(args[0], args)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("kernel").add_argument("connection_file")
    run = sub.add_parser("run")
    run.add_argument("--cwd", default=os.getcwd())
    run.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.mode == "kernel":
        kernel(args.connection_file)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    cwd = os.path.abspath(args.cwd)
    prepare_data()
    full = bwrap_command(command or [sys.executable], cwd, readonly=readonly_paths(cwd))
    set_limits()
    os.execv(full[0], full)


if __name__ == "__main__":
    main()
