// Host-build copy of android.hardware.graphics.allocator V2 AllocationError.
// Sent as a service-specific error code.

package android.hardware.graphics.allocator;

@VintfStability
@Backing(type="int")
enum AllocationError {
    BAD_DESCRIPTOR = 0,
    NO_RESOURCES = 1,
    UNSUPPORTED = 2,
}
