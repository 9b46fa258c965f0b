// Host-build copy of android.hardware.graphics.common V5 ExtendableType.

package android.hardware.graphics.common;

@VintfStability
parcelable ExtendableType {
    /** The AIDL type name of the option, e.g. android.hardware.graphics.common.Compression. */
    @utf8InCpp String name;
    long value = 0;
}
