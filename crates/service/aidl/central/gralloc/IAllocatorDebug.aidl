// Host-only debug interface of the central-gralloc service, attached as the binder extension
// of the IAllocator root object on the RPC socket. An rsbinder socket client cannot send the
// DUMP_TRANSACTION that dumpsys sends over kernel binder, so `gralloc dump --socket` asks for
// the same text through this call. Never built for Android (Soong has no rule for it).

package central.gralloc;

interface IAllocatorDebug {
    /** The text `dumpsys` would print for IAllocator/default. */
    String dumpText(in String[] args);
}
