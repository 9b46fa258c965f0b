// Host-build copy of the frozen android.hardware.graphics.allocator V2 interface.
// Written from the interface facts in DESIGN.md §3 (same package, method order and
// signatures as AOSP's frozen V2, hash 9499fec09c544e9de5be3c87125721600f8ade66),
// so the generated stubs speak the same wire format. Do not reorder methods.

package android.hardware.graphics.allocator;

import android.hardware.graphics.allocator.AllocationResult;
import android.hardware.graphics.allocator.BufferDescriptorInfo;

@VintfStability
interface IAllocator {
    /**
     * @deprecated Replaced by allocate2 in V2; the descriptor is an IMapper 4 encoded blob.
     */
    AllocationResult allocate(in byte[] descriptor, in int count);

    /** Allocates `count` buffers described by `descriptor`; failures are AllocationError. */
    AllocationResult allocate2(in BufferDescriptorInfo descriptor, in int count);

    /** False means allocate2 can never succeed for this descriptor; must not throw. */
    boolean isSupported(in BufferDescriptorInfo descriptor);

    /** Suffix of the IMapper 5 library: mapper.<suffix>.so. */
    String getIMapperLibrarySuffix();
}
