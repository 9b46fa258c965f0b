// Host-build copy of android.hardware.common V2 NativeHandle (a native_handle_t on the wire).

package android.hardware.common;

@VintfStability
parcelable NativeHandle {
    ParcelFileDescriptor[] fds;
    int[] ints;
}
