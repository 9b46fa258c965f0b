#!/bin/sh
# The device nodes the kernel tier exists for; one protocol line each.
check() { # name, test expression...
  name=$1; shift
  if "$@"; then echo "PASS boot.$name"; else echo "FAIL boot.$name: missing ($*)"; fi
}
check dev_dma_heap_system test -c /dev/dma_heap/system
check dev_udmabuf test -c /dev/udmabuf
check dev_binder test -c /dev/binder
check dev_dri_card test -c /dev/dri/card0
check debugfs_bufinfo test -r /sys/kernel/debug/dma_buf/bufinfo
