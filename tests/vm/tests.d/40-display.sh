#!/bin/sh
# The display path over kernel binder: SurfaceFlinger-like allocation and drawing through the
# mapper, a composer-like KMS client scanning the buffers out on virtio-gpu, the host comparing
# QEMU screendumps pixel for pixel (tests/vm/screen.py), vgem as a second reader, and a
# system-heap buffer the composer cannot import. Runs after 30-bringup.sh (the allocator is up).

selected() {
  [ -n "$VMTEST_FILTER" ] || return 0
  for f in $(echo "$VMTEST_FILTER" | tr , " "); do
    case "$f" in *display*) return 0 ;; esac
    case "display." in *"$f"*) return 0 ;; esac
  done
  return 1
}
if ! selected; then
  echo "INFO display: skipped (VMTEST_FILTER=$VMTEST_FILTER)"
  exit 0
fi
bringup display 30
