// Host-build copy of android.hardware.graphics.allocator V2 AllocationResult (field order is wire format).

package android.hardware.graphics.allocator;

import android.hardware.common.NativeHandle;

@VintfStability
parcelable AllocationResult {
    /** Stride in pixels, the same for every buffer in `buffers`. */
    int stride;
    /** One handle per allocated buffer. */
    NativeHandle[] buffers;
}
