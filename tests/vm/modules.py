#!/usr/bin/env python3
"""Resolve kernel modules and their dependencies for the VM initramfs.

The Debian kernel package ships no modules.dep (depmod generates it at install time), so the
dependencies are read from each module's own `.modinfo` section (`depends=`, written by modpost),
which is what depmod derives modules.dep from. Modules are decompressed (.ko.xz/.ko.zst/.ko.gz)
into the output directory, and `modules.load` lists them in load order, one `file.ko [params]`
per line, dependencies first; `modules.missing` lists requested modules that cannot be
loaded (`name reason`), for the VM to report as failures.

usage: modules.py MODULES_DIR OUT_DIR 'name [params]'...
"""

import gzip
import os
import struct
import subprocess
import sys

try:
    import lzma
except ImportError:  # Python built without liblzma: fall back to the xz tool.
    lzma = None


def decompress(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".xz") and lzma is not None:
        return lzma.decompress(data)
    if path.endswith(".gz"):
        return gzip.decompress(data)
    tool = {".xz": "xz", ".zst": "zstd"}.get(os.path.splitext(path)[1])
    if tool is None:
        return data
    try:
        return subprocess.run([tool, "-dc"], input=data, check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"modules.py: cannot decompress {path} with {tool}: {e}")


def modinfo(elf):
    """Return the key=value pairs of an ELF64 little-endian module's .modinfo section."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise ValueError("not an ELF64 little-endian object")
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)

    def section(i):
        base = shoff + i * shentsize
        name, = struct.unpack_from("<I", elf, base)
        offset, size = struct.unpack_from("<QQ", elf, base + 0x18)
        return name, offset, size

    _, str_off, str_size = section(shstrndx)
    names = elf[str_off:str_off + str_size]
    for i in range(shnum):
        name, offset, size = section(i)
        if names[name:names.index(b"\0", name)] == b".modinfo":
            info = {}
            for entry in elf[offset:offset + size].split(b"\0"):
                key, sep, value = entry.partition(b"=")
                if sep:
                    info.setdefault(key.decode(), value.decode())
            return info
    return {}


def norm(name):
    return name.replace("-", "_")


def index(modules_dir):
    found = {}
    for dirpath, _, files in os.walk(modules_dir):
        for f in files:
            for ext in (".ko", ".ko.xz", ".ko.gz", ".ko.zst"):
                if f.endswith(ext):
                    found[norm(f[: -len(ext)])] = os.path.join(dirpath, f)
    return found


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    modules_dir, out_dir, requests = sys.argv[1], sys.argv[2], sys.argv[3:]
    available = index(modules_dir)
    params = {}
    wanted = []
    for request in requests:
        name, _, args = request.partition(" ")
        params[norm(name)] = args.strip()
        wanted.append(norm(name))

    os.makedirs(out_dir, exist_ok=True)
    order, loading, lines, missing = [], set(), [], {}

    # Returns None when `name` and its dependencies are staged, else why it cannot be loaded.
    def visit(name, chain):
        if name in order:
            return None
        if name in missing:
            return missing[name]
        if name in loading:
            sys.exit(f"modules.py: dependency cycle: {' -> '.join(chain + [name])}")
        path = available.get(name)
        if path is None:
            missing[name] = f"{name} is not in the kernel package"
            return missing[name]
        loading.add(name)
        elf = decompress(path)
        deps = [norm(d) for d in modinfo(elf).get("depends", "").split(",") if d]
        for dep in deps:
            why = visit(dep, chain + [name])
            if why is not None:
                missing[name] = f"needs {dep}: {why}"
                return missing[name]
        ko = os.path.basename(path).split(".ko")[0] + ".ko"
        with open(os.path.join(out_dir, ko), "wb") as f:
            f.write(elf)
        order.append(name)
        lines.append(f"{ko} {params.get(name, '')}".rstrip())
        return None

    # A module that cannot be loaded is reported by the VM's init as a failed boot check, so the
    # rest of the tier still runs.
    failures = []
    for name in wanted:
        why = visit(name, [])
        if why is not None:
            failures.append(f"{name} {why}")
            print(f"modules.py: cannot load {name}: {why}", file=sys.stderr)
    with open(os.path.join(out_dir, "modules.load"), "w") as f:
        f.write("".join(line + "\n" for line in lines))
    with open(os.path.join(out_dir, "modules.missing"), "w") as f:
        f.write("".join(line + "\n" for line in failures))


if __name__ == "__main__":
    main()
