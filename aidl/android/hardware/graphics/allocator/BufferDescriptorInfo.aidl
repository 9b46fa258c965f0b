// Host-build copy of android.hardware.graphics.allocator V2 BufferDescriptorInfo (field order is wire format).

package android.hardware.graphics.allocator;

import android.hardware.graphics.common.BufferUsage;
import android.hardware.graphics.common.ExtendableType;
import android.hardware.graphics.common.PixelFormat;

@VintfStability
parcelable BufferDescriptorInfo {
    /** Debug name, NUL-terminated ASCII; treat name[127] as 0. */
    byte[128] name;
    int width;
    int height;
    int layerCount;
    PixelFormat format = PixelFormat.UNSPECIFIED;
    BufferUsage usage = BufferUsage.CPU_READ_NEVER;
    long reservedSize;
    /** Unknown option names make isSupported false and allocation fail. */
    ExtendableType[] additionalOptions;
}
