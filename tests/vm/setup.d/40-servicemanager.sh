# shellcheck shell=sh
# Kernel binder as Android sets it up: the device modes of ueventd.rc, then a service manager.
#
# rsb_hub (rsbinder-tools) stands in for Android's servicemanager. It only opens
# /dev/binderfs/<device>; a symlink to the /dev/binder that `binder_linux devices=binder` made
# keeps every process (service, clients, hub) on the one binder context. --insecure-allow-all:
# the VM has no SELinux to decide who may register or look up, as servicemanager would.

servicemanager_setup() {
  mkdir -p /dev/binderfs && ln -sf /dev/binder /dev/binderfs/binder || return 1
  # system/core/rootdir/ueventd.rc: binder for everyone; the system heap readable by all,
  # owned by system (allocating is an ioctl on a read-only fd).
  chmod 0666 /dev/binder || return 1
  chown 1000:1000 /dev/dma_heap/system && chmod 0444 /dev/dma_heap/system || return 1
  # device/google/cuttlefish shared/config/ueventd.rc: virtio-gpu's card node for system and
  # graphics (the allocator makes its display memory there), its render node for everyone.
  chown 1000:1003 /dev/dri/card0 && chmod 0660 /dev/dri/card0 || return 1
  chown 1000:1003 /dev/dri/renderD128 && chmod 0666 /dev/dri/renderD128 || return 1

  rsb_hub --insecure-allow-all > /tmp/rsb_hub.log 2>&1 < /dev/null &
  echo $! > /run/rsb_hub.pid
  if ! bringup hub 20 2> /tmp/rsb_hub.wait; then
    echo "INFO setup.40-servicemanager: $(cat /tmp/rsb_hub.wait); rsb_hub log: $(tail -n 5 /tmp/rsb_hub.log | tr '\n' ' ')"
    return 1
  fi
}

servicemanager_setup
