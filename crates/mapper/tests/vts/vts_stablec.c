// Host ports of the IMapper stable-C VTS cases, run against a mapper library loaded with dlopen.
/*
 * Usage: vts_stablec LIBRARY SOCKET_FD
 *
 * LIBRARY is loaded the way libui loads `mapper.<suffix>.so` (dlopen, RTLD_LOCAL | RTLD_NOW);
 * the program resolves ANDROID_HAL_MAPPER_VERSION, ANDROID_HAL_STABLEC_VERSION and
 * AIMapper_loadIMapper, then runs ports of VtsHalGraphicsMapperStableC_TargetTest (Android 14 and
 * 15, 52 cases), the AIMapper v5 cases later releases added, and a few checks of what libui relies
 * on that VTS leaves out (named `Extra_*`).
 *
 * Buffers come from a real IAllocator. SOCKET_FD is a SOCK_SEQPACKET socket to the test driver,
 * which holds the binder connection: a request is one text message
 *     "A|S WIDTH HEIGHT LAYERS FORMAT USAGE RESERVED COUNT NAME"
 * (A = allocate2, S = isSupported); the reply is four int32 {kind, value, stride, count} where
 * kind 0 is success (value = isSupported's answer), 1 an AllocationError (value = the error),
 * 2 a transport failure; after a successful allocate2 one message per buffer follows:
 * int32 {numFds, numInts, ints...} with the fds attached as SCM_RIGHTS. The received fds are the
 * raw handle, which the program owns and closes itself: the mapper has to dup what it keeps.
 *
 * Output: one "PASS name", "FAIL name: why" or "SKIP name: why" line per case, then
 * "N passed, M failed" on its own line. Exit status 1 if any case failed.
 *
 * The C ABI is declared below from its published layout (AIMapper 128 bytes with v5 at 8,
 * AIMapperV5 15 function pointers, AIMapper_MetadataTypeDescription 64 bytes, ...); no Android
 * header is used. Metadata is decoded field by field (header name and type, then the payload)
 * the way the VTS decoders read it, and more strictly in two ways: a blob must be exactly as long
 * as its fields (gralloc4's decoder, which HIDL-era clients use, refuses trailing bytes), and the
 * mapper must not write past the size it returns.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------
 * The ABI: native_handle_t (libcutils), ARect (NDK) and IMapper.h (stable-C v5).
 * ------------------------------------------------------------------------------------------- */

typedef struct native_handle {
    int version; /* sizeof(native_handle_t) */
    int numFds;
    int numInts;
    int data[]; /* numFds fds, then numInts ints */
} native_handle_t;
typedef const native_handle_t* buffer_handle_t;

typedef struct ARect {
    int32_t left;
    int32_t top;
    int32_t right;
    int32_t bottom;
} ARect;

/* enum AIMapper_Error : int32_t */
typedef int32_t AIMapper_Error;
#define AIMAPPER_ERROR_NONE 0
#define AIMAPPER_ERROR_BAD_DESCRIPTOR 1
#define AIMAPPER_ERROR_BAD_BUFFER 2
#define AIMAPPER_ERROR_BAD_VALUE 3
#define AIMAPPER_ERROR_NO_RESOURCES 5
#define AIMAPPER_ERROR_UNSUPPORTED 7

/* enum AIMapper_Version : uint32_t */
typedef uint32_t AIMapper_Version;
#define AIMAPPER_VERSION_5 5u

typedef struct AIMapper_MetadataType {
    const char* name;
    int64_t value;
} AIMapper_MetadataType;

typedef struct AIMapper_MetadataTypeDescription {
    AIMapper_MetadataType metadataType;
    const char* description;
    bool isGettable;
    bool isSettable;
    uint8_t reserved[32];
} AIMapper_MetadataTypeDescription;

typedef void (*AIMapper_DumpBufferCallback)(void* context, AIMapper_MetadataType metadataType,
                                            const void* value, size_t valueSize);
typedef void (*AIMapper_BeginDumpBufferCallback)(void* context);

typedef struct AIMapperV5 {
    AIMapper_Error (*importBuffer)(const native_handle_t* handle, buffer_handle_t* outBufferHandle);
    AIMapper_Error (*freeBuffer)(buffer_handle_t buffer);
    AIMapper_Error (*getTransportSize)(buffer_handle_t buffer, uint32_t* outNumFds,
                                       uint32_t* outNumInts);
    AIMapper_Error (*lock)(buffer_handle_t buffer, uint64_t cpuUsage, ARect accessRegion,
                           int acquireFence, void** outData);
    AIMapper_Error (*unlock)(buffer_handle_t buffer, int* releaseFence);
    AIMapper_Error (*flushLockedBuffer)(buffer_handle_t buffer);
    AIMapper_Error (*rereadLockedBuffer)(buffer_handle_t buffer);
    int32_t (*getMetadata)(buffer_handle_t buffer, AIMapper_MetadataType metadataType,
                           void* destBuffer, size_t destBufferSize);
    int32_t (*getStandardMetadata)(buffer_handle_t buffer, int64_t standardMetadataType,
                                   void* destBuffer, size_t destBufferSize);
    AIMapper_Error (*setMetadata)(buffer_handle_t buffer, AIMapper_MetadataType metadataType,
                                  const void* metadata, size_t metadataSize);
    AIMapper_Error (*setStandardMetadata)(buffer_handle_t buffer, int64_t standardMetadataType,
                                          const void* metadata, size_t metadataSize);
    AIMapper_Error (*listSupportedMetadataTypes)(
            const AIMapper_MetadataTypeDescription** outDescriptionList,
            size_t* outNumberOfDescriptions);
    AIMapper_Error (*dumpBuffer)(buffer_handle_t buffer,
                                 AIMapper_DumpBufferCallback dumpBufferCallback, void* context);
    AIMapper_Error (*dumpAllBuffers)(AIMapper_BeginDumpBufferCallback beginDumpCallback,
                                     AIMapper_DumpBufferCallback dumpBufferCallback,
                                     void* context);
    AIMapper_Error (*getReservedRegion)(buffer_handle_t buffer, void** outReservedRegion,
                                        uint64_t* outReservedSize);
} AIMapperV5;

typedef struct AIMapper {
    _Alignas(max_align_t) AIMapper_Version version;
    AIMapperV5 v5;
} AIMapper;

typedef AIMapper_Error (*AIMapper_loadIMapperFn)(AIMapper** outImplementation);

_Static_assert(sizeof(native_handle_t) == 12, "native_handle_t is 3 ints");
_Static_assert(sizeof(ARect) == 16 && _Alignof(ARect) == 4, "ARect is 4 int32");
#if UINTPTR_MAX == UINT64_MAX
/* The 64-bit layout of the ABI dump (arm64; x86_64 agrees). */
_Static_assert(sizeof(AIMapper_MetadataType) == 16, "AIMapper_MetadataType");
_Static_assert(sizeof(AIMapper_MetadataTypeDescription) == 64, "description size");
_Static_assert(offsetof(AIMapper_MetadataTypeDescription, description) == 16, "description");
_Static_assert(offsetof(AIMapper_MetadataTypeDescription, isGettable) == 24, "isGettable");
_Static_assert(offsetof(AIMapper_MetadataTypeDescription, isSettable) == 25, "isSettable");
_Static_assert(offsetof(AIMapper_MetadataTypeDescription, reserved) == 26, "reserved");
_Static_assert(sizeof(AIMapperV5) == 120, "AIMapperV5 is 15 pointers");
_Static_assert(offsetof(AIMapperV5, getReservedRegion) == 112, "getReservedRegion is last");
_Static_assert(sizeof(AIMapper) == 128 && _Alignof(AIMapper) == 16, "AIMapper");
_Static_assert(offsetof(AIMapper, v5) == 8, "AIMapper.v5");
#endif

/* ---------------------------------------------------------------------------------------------
 * Android constants the cases use (AIDL values).
 * ------------------------------------------------------------------------------------------- */

/* PixelFormat */
#define FMT_RGBA_8888 0x1
#define FMT_RGBX_8888 0x2
#define FMT_RGB_888 0x3
#define FMT_RGB_565 0x4
#define FMT_BGRA_8888 0x5
#define FMT_YCRCB_420_SP 0x11
#define FMT_RGBA_FP16 0x16
#define FMT_YCBCR_420_888 0x23
#define FMT_RAW10 0x25
#define FMT_RAW12 0x26
#define FMT_RGBA_1010102 0x2B
#define FMT_YCBCR_P010 0x36
#define FMT_R_8 0x38
#define FMT_R_16_UINT 0x39
#define FMT_RG_1616_UINT 0x3a
#define FMT_RGBA_10101010 0x3b
#define FMT_YV12 0x32315659

/* BufferUsage */
#define USAGE_CPU_READ_RARELY 0x2ull
#define USAGE_CPU_READ_OFTEN 0x3ull
#define USAGE_CPU_WRITE_NEVER 0x0ull
#define USAGE_CPU_WRITE_OFTEN 0x30ull
#define USAGE_GPU_TEXTURE 0x100ull
#define USAGE_GPU_RENDER_TARGET 0x200ull
#define USAGE_COMPOSER_OVERLAY 0x800ull
#define USAGE_PROTECTED 0x4000ull
#define USAGE_FRONT_BUFFER (1ull << 32)

/* StandardMetadataType */
enum {
    SMT_INVALID = 0,
    SMT_BUFFER_ID = 1,
    SMT_NAME = 2,
    SMT_WIDTH = 3,
    SMT_HEIGHT = 4,
    SMT_LAYER_COUNT = 5,
    SMT_PIXEL_FORMAT_REQUESTED = 6,
    SMT_PIXEL_FORMAT_FOURCC = 7,
    SMT_PIXEL_FORMAT_MODIFIER = 8,
    SMT_USAGE = 9,
    SMT_ALLOCATION_SIZE = 10,
    SMT_PROTECTED_CONTENT = 11,
    SMT_COMPRESSION = 12,
    SMT_INTERLACED = 13,
    SMT_CHROMA_SITING = 14,
    SMT_PLANE_LAYOUTS = 15,
    SMT_CROP = 16,
    SMT_DATASPACE = 17,
    SMT_BLEND_MODE = 18,
    SMT_SMPTE2086 = 19,
    SMT_CTA861_3 = 20,
    SMT_SMPTE2094_40 = 21,
    SMT_SMPTE2094_10 = 22,
    SMT_STRIDE = 23,
    /* Number of enumerators on Android 14/15: the first value a mapper must call unknown. */
    SMT_ENUM_SIZE = 24,
};

static const char* const SMT_NAMES[SMT_ENUM_SIZE] = {
        "INVALID",       "BUFFER_ID",        "NAME",          "WIDTH",
        "HEIGHT",        "LAYER_COUNT",      "PIXEL_FORMAT_REQUESTED",
        "PIXEL_FORMAT_FOURCC",               "PIXEL_FORMAT_MODIFIER",
        "USAGE",         "ALLOCATION_SIZE",  "PROTECTED_CONTENT",
        "COMPRESSION",   "INTERLACED",       "CHROMA_SITING",
        "PLANE_LAYOUTS", "CROP",             "DATASPACE",     "BLEND_MODE",
        "SMPTE2086",     "CTA861_3",         "SMPTE2094_40",  "SMPTE2094_10",
        "STRIDE",
};

static const char* smt_name(int64_t type) {
    return (type >= 0 && type < SMT_ENUM_SIZE) ? SMT_NAMES[type] : "(not a standard type)";
}

static const char STANDARD_METADATA_NAME[] = "android.hardware.graphics.common.StandardMetadataType";
static const char PLANE_COMPONENT_NAME[] =
        "android.hardware.graphics.common.PlaneLayoutComponentType";
static const char COMPRESSION_NAME[] = "android.hardware.graphics.common.Compression";
static const char INTERLACED_NAME[] = "android.hardware.graphics.common.Interlaced";
static const char CHROMA_SITING_NAME[] = "android.hardware.graphics.common.ChromaSiting";

/* PlaneLayoutComponentType */
#define PLC_Y (1 << 0)
#define PLC_CB (1 << 1)
#define PLC_CR (1 << 2)
#define PLC_R (1 << 10)
#define PLC_G (1 << 11)
#define PLC_B (1 << 12)
#define PLC_RAW (1 << 20)
#define PLC_A (1 << 30)

/* Dataspace, BlendMode */
#define DATASPACE_UNKNOWN 0
#define DATASPACE_DISPLAY_P3 ((10 << 16) | (2 << 22) | (1 << 27))
#define BLEND_MODE_INVALID 0
#define BLEND_MODE_COVERAGE 3

/* DRM fourcc codes */
#define DRM_FORMAT_ABGR8888 0x34324241u /* 'AB24' */
#define DRM_FORMAT_YVU420 0x32315659u   /* 'YV12' */

/* ---------------------------------------------------------------------------------------------
 * Case bookkeeping: EXPECT records a failure and continues, ASSERT records and returns (as gtest).
 * ------------------------------------------------------------------------------------------- */

static char g_why[4096];
static size_t g_why_len;
static int g_case_failures;
static char g_skip[512];

static void fail_at(int line, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_at(int line, const char* fmt, ...) {
    g_case_failures++;
    if (g_case_failures > 8) {
        return; /* the first few say enough */
    }
    char msg[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, sizeof msg, fmt, args);
    va_end(args);
    int n = snprintf(g_why + g_why_len, sizeof g_why - g_why_len, "%s%s (line %d)",
                     g_why_len ? "; " : "", msg, line);
    if (n > 0) {
        g_why_len += (size_t)n;
        if (g_why_len >= sizeof g_why) g_why_len = sizeof g_why - 1;
    }
}

static void skip_case(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void skip_case(const char* fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(g_skip, sizeof g_skip, fmt, args);
    va_end(args);
}

#define FAIL(...) fail_at(__LINE__, __VA_ARGS__)
#define EXPECT(cond, ...)             \
    do {                              \
        if (!(cond)) FAIL(__VA_ARGS__); \
    } while (0)
#define ASSERT(cond, ...)       \
    do {                        \
        if (!(cond)) {          \
            FAIL(__VA_ARGS__);  \
            return;             \
        }                       \
    } while (0)
/* For helpers returning bool. */
#define ASSERT_B(cond, ...)     \
    do {                        \
        if (!(cond)) {          \
            FAIL(__VA_ARGS__);  \
            return false;       \
        }                       \
    } while (0)

static const char* err_name(int32_t e) {
    switch (e) {
        case AIMAPPER_ERROR_NONE: return "NONE";
        case AIMAPPER_ERROR_BAD_DESCRIPTOR: return "BAD_DESCRIPTOR";
        case AIMAPPER_ERROR_BAD_BUFFER: return "BAD_BUFFER";
        case AIMAPPER_ERROR_BAD_VALUE: return "BAD_VALUE";
        case AIMAPPER_ERROR_NO_RESOURCES: return "NO_RESOURCES";
        case AIMAPPER_ERROR_UNSUPPORTED: return "UNSUPPORTED";
        default: return "(not an AIMapper_Error)";
    }
}

#define EXPECT_ERR(expected, call, what)                                                   \
    do {                                                                                   \
        AIMapper_Error e_ = (call);                                                        \
        if (e_ != (expected))                                                              \
            FAIL("%s: %s (%d), expected %s", what, err_name(e_), e_, err_name(expected)); \
    } while (0)
#define ASSERT_ERR(expected, call, what)                                                   \
    do {                                                                                   \
        AIMapper_Error e_ = (call);                                                        \
        if (e_ != (expected)) {                                                            \
            FAIL("%s: %s (%d), expected %s", what, err_name(e_), e_, err_name(expected)); \
            return;                                                                        \
        }                                                                                  \
    } while (0)

/* ---------------------------------------------------------------------------------------------
 * The mapper.
 * ------------------------------------------------------------------------------------------- */

static void* g_library;
static AIMapper_loadIMapperFn g_loader;
static AIMapper* g_mapper;
static const int32_t* g_hal_version;     /* ANDROID_HAL_MAPPER_VERSION (what VTS reads) */
static const uint32_t* g_stablec_version; /* ANDROID_HAL_STABLEC_VERSION (the README's name) */

static AIMapperV5* mapper(void) { return &g_mapper->v5; }

/* libcutils' native_handle_create / native_handle_delete / native_handle_close. */
static native_handle_t* nh_create(int num_fds, int num_ints) {
    if (num_fds < 0 || num_ints < 0 || num_fds > 1024 || num_ints > 1024) return NULL;
    size_t size = sizeof(native_handle_t) + sizeof(int) * (size_t)(num_fds + num_ints);
    native_handle_t* h = calloc(1, size);
    if (h == NULL) return NULL;
    h->version = (int)sizeof(native_handle_t);
    h->numFds = num_fds;
    h->numInts = num_ints;
    return h;
}

static void nh_close(native_handle_t* h) {
    for (int i = 0; i < h->numFds; i++) close(h->data[i]);
}

static void nh_delete(native_handle_t* h) { free(h); }

/* ---------------------------------------------------------------------------------------------
 * Buffers from the allocator, and the per-case cleanup of allocations and imports.
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    const char* name;
    int32_t width;
    int32_t height;
    int32_t layer_count;
    int32_t format;
    uint64_t usage;
    int64_t reserved_size;
} Desc;

typedef struct {
    native_handle_t* raw; /* owned by the program, as dupFromAidl's handle is owned by VTS */
    int32_t stride;
    Desc info;
} Allocation;

#define MAX_TRACKED 64
static Allocation* g_allocs[MAX_TRACKED];
static int g_num_allocs;
static buffer_handle_t g_imports[MAX_TRACKED];
static int g_num_imports;
static int g_sock = -1;

static Desc generic_desc(void) {
    Desc d = {"VTS_TEMP", 64, 64, 1, FMT_RGBA_8888, USAGE_CPU_WRITE_OFTEN | USAGE_CPU_READ_OFTEN,
              0};
    return d;
}

enum { REPLY_OK = 0, REPLY_ALLOCATION_ERROR = 1, REPLY_TRANSPORT = 2 };

static bool send_request(char op, const Desc* d) {
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%c %d %d %d %d %" PRIu64 " %" PRId64 " 1 %s", op,
                     d->width, d->height, d->layer_count, d->format, d->usage, d->reserved_size,
                     d->name);
    if (n < 0 || (size_t)n >= sizeof msg) {
        FAIL("request too long");
        return false;
    }
    if (send(g_sock, msg, (size_t)n, MSG_NOSIGNAL) != n) {
        FAIL("send to the driver: %s", strerror(errno));
        return false;
    }
    return true;
}

static bool recv_reply(int32_t reply[4]) {
    ssize_t n = recv(g_sock, reply, 4 * sizeof(int32_t), 0);
    if (n != (ssize_t)(4 * sizeof(int32_t))) {
        FAIL("reply from the driver: %zd bytes (%s)", n, n < 0 ? strerror(errno) : "short");
        return false;
    }
    return true;
}

/* One buffer message: the ints in the data, the fds as SCM_RIGHTS. */
static native_handle_t* recv_handle(void) {
    int32_t data[2 + 1024];
    union {
        char buf[CMSG_SPACE(sizeof(int) * 16)];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    ssize_t n = recvmsg(g_sock, &msg, MSG_CMSG_CLOEXEC);
    int fds[16];
    int num_fds = 0;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count && num_fds < 16; i++) {
                memcpy(&fds[num_fds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            }
        }
    }
    native_handle_t* h = NULL;
    if (n < 8 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        FAIL("buffer message from the driver: %zd bytes, flags 0x%x", n, msg.msg_flags);
    } else if (data[0] != num_fds || data[1] < 0 || (size_t)n != 8 + 4 * (size_t)data[1]) {
        FAIL("buffer message says %d fds and %d ints; got %d fds and %zd bytes", data[0],
             data[1], num_fds, n);
    } else if ((h = nh_create(num_fds, data[1])) == NULL) {
        FAIL("native handle of %d fds and %d ints", num_fds, data[1]);
    } else {
        memcpy(h->data, fds, sizeof(int) * (size_t)num_fds);
        memcpy(h->data + num_fds, data + 2, sizeof(int) * (size_t)data[1]);
        return h;
    }
    for (int i = 0; i < num_fds; i++) close(fds[i]);
    return NULL;
}

/*
 * IAllocator::allocate2(desc, 1). NULL if it failed; like VTS, an AllocationError is not a failure
 * of the case by itself (an optional format may be unsupported), a transport failure is.
 */
static Allocation* allocate_ex(Desc d, int32_t* out_error) {
    if (out_error) *out_error = -1;
    if (!send_request('A', &d)) return NULL;
    int32_t reply[4];
    if (!recv_reply(reply)) return NULL;
    if (reply[0] == REPLY_ALLOCATION_ERROR) {
        if (out_error) *out_error = reply[1];
        return NULL;
    }
    if (reply[0] != REPLY_OK) {
        FAIL("allocate2 transport failure (%d)", reply[1]);
        return NULL;
    }
    if (reply[3] != 1) {
        FAIL("allocate2(count 1) returned %d buffers", reply[3]);
        for (int i = 0; i < reply[3]; i++) {
            native_handle_t* h = recv_handle();
            if (h) {
                nh_close(h);
                nh_delete(h);
            }
        }
        return NULL;
    }
    native_handle_t* raw = recv_handle();
    if (raw == NULL) return NULL;
    Allocation* a = calloc(1, sizeof *a);
    if (a == NULL || g_num_allocs == MAX_TRACKED) {
        FAIL("too many allocations in one case");
        nh_close(raw);
        nh_delete(raw);
        free(a);
        return NULL;
    }
    a->raw = raw;
    a->stride = reply[2];
    a->info = d;
    g_allocs[g_num_allocs++] = a;
    return a;
}

static Allocation* allocate(Desc d) { return allocate_ex(d, NULL); }

static Allocation* allocate_generic(void) { return allocate(generic_desc()); }

static bool is_supported(Desc d) {
    if (!send_request('S', &d)) return false;
    int32_t reply[4];
    if (!recv_reply(reply)) return false;
    if (reply[0] != REPLY_OK) {
        FAIL("isSupported failed (kind %d, value %d)", reply[0], reply[1]);
        return false;
    }
    return reply[1] != 0;
}

/* VTS's BufferHandle: importBuffer expecting NONE, freed at the end of the case. */
static buffer_handle_t import_buffer(const Allocation* a) {
    buffer_handle_t h = NULL;
    AIMapper_Error e = mapper()->importBuffer(a->raw, &h);
    if (e != AIMAPPER_ERROR_NONE) {
        FAIL("importBuffer: %s (%d)", err_name(e), e);
        return NULL;
    }
    if (h == NULL) {
        FAIL("importBuffer returned NONE and a NULL handle");
        return NULL;
    }
    if (g_num_imports == MAX_TRACKED) {
        FAIL("too many imports in one case");
        mapper()->freeBuffer(h);
        return NULL;
    }
    g_imports[g_num_imports++] = h;
    return h;
}

/* Frees what the case left: imports first (expecting NONE, like ~BufferHandle), then the raw
 * handles (closing the fds the program received). */
static void release_case_resources(void) {
    for (int i = g_num_imports - 1; i >= 0; i--) {
        AIMapper_Error e = mapper()->freeBuffer(g_imports[i]);
        if (e != AIMAPPER_ERROR_NONE) FAIL("freeBuffer at the end of the case: %s", err_name(e));
    }
    g_num_imports = 0;
    for (int i = 0; i < g_num_allocs; i++) {
        if (g_allocs[i]->raw) {
            nh_close(g_allocs[i]->raw);
            nh_delete(g_allocs[i]->raw);
        }
        free(g_allocs[i]);
    }
    g_num_allocs = 0;
}

static ARect full_region(const Allocation* a) {
    ARect r = {0, 0, a->info.width, a->info.height};
    return r;
}

static void close_fence(int fence) {
    if (fence >= 0) close(fence);
}

/* ---------------------------------------------------------------------------------------------
 * Metadata: reading and writing the gralloc4 byte encoding.
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    const uint8_t* p;
    size_t size;
    size_t off;
    bool ok;
    const char* error; /* the first thing that went wrong */
} Reader;

static Reader reader(const uint8_t* p, size_t size) {
    Reader r = {p, size, 0, true, NULL};
    return r;
}

static void rd_fail(Reader* r, const char* why) {
    if (r->ok) r->error = why;
    r->ok = false;
}

static bool rd_take(Reader* r, void* out, size_t n) {
    if (!r->ok) return false;
    if (r->size - r->off < n) {
        rd_fail(r, "blob too short");
        return false;
    }
    memcpy(out, r->p + r->off, n); /* little-endian host, as every Android ABI */
    r->off += n;
    return true;
}

static int64_t rd_i64(Reader* r) {
    int64_t v = 0;
    rd_take(r, &v, 8);
    return v;
}
static int32_t rd_i32(Reader* r) {
    int32_t v = 0;
    rd_take(r, &v, 4);
    return v;
}
static uint32_t rd_u32(Reader* r) {
    uint32_t v = 0;
    rd_take(r, &v, 4);
    return v;
}
static float rd_f32(Reader* r) {
    float v = 0;
    rd_take(r, &v, 4);
    return v;
}

/* int64 length, then that many bytes (no NUL). Copies at most cap-1 bytes, NUL-terminated. */
static size_t rd_string(Reader* r, char* out, size_t cap) {
    int64_t len = rd_i64(r);
    if (!r->ok) return 0;
    if (len < 0 || (uint64_t)len > r->size - r->off) {
        rd_fail(r, "string length past the end of the blob");
        return 0;
    }
    if ((uint64_t)len >= cap) {
        rd_fail(r, "string longer than this reader allows");
        return 0;
    }
    memcpy(out, r->p + r->off, (size_t)len);
    out[len] = '\0';
    r->off += (size_t)len;
    return (size_t)len;
}

/* The 69-byte header: the standard name as a string, then the type as int64. */
static void rd_header(Reader* r, int64_t type) {
    char name[128];
    size_t len = rd_string(r, name, sizeof name);
    if (!r->ok) return;
    if (len != strlen(STANDARD_METADATA_NAME) || memcmp(name, STANDARD_METADATA_NAME, len) != 0) {
        rd_fail(r, "header name is not android.hardware.graphics.common.StandardMetadataType");
        return;
    }
    int64_t value = rd_i64(r);
    if (r->ok && value != type) rd_fail(r, "header names another metadata type");
}

/* Ends a decode: every byte consumed. */
static bool rd_finish(Reader* r, int64_t type) {
    if (r->ok && r->off != r->size) {
        FAIL("%s: %zu bytes after the encoded value", smt_name(type), r->size - r->off);
        return false;
    }
    if (!r->ok) {
        FAIL("%s does not decode: %s (at byte %zu of %zu)", smt_name(type), r->error, r->off,
             r->size);
        return false;
    }
    return true;
}

typedef struct {
    uint8_t* data;
    size_t size;
} Blob;

static void blob_free(Blob* b) {
    free(b->data);
    b->data = NULL;
    b->size = 0;
}

enum { GOT = 1, UNSUPPORTED = 0, GET_FAILED = -1 };

/*
 * VTS's getStandardMetadata: a 512-byte first guess, a second call with the returned size if it
 * did not fit. -UNSUPPORTED is "not available" (UNSUPPORTED); any other negative value fails the
 * case. The buffer is filled with a canary so a write past the returned size shows.
 */
static int get_std(buffer_handle_t h, int64_t type, Blob* out) {
    out->data = NULL;
    out->size = 0;
    size_t cap = 512;
    uint8_t* buf = malloc(cap);
    if (buf == NULL) return GET_FAILED;
    memset(buf, 0xA5, cap);
    int32_t size = mapper()->getStandardMetadata(h, type, buf, cap);
    if (size < 0) {
        free(buf);
        if (size != -AIMAPPER_ERROR_UNSUPPORTED) {
            FAIL("getStandardMetadata(%s) on a valid buffer: %d (%s)", smt_name(type), size,
                 err_name(-size));
            return GET_FAILED;
        }
        return UNSUPPORTED;
    }
    if ((size_t)size > cap) {
        free(buf);
        cap = (size_t)size;
        buf = malloc(cap);
        if (buf == NULL) return GET_FAILED;
        memset(buf, 0xA5, cap);
        size = mapper()->getStandardMetadata(h, type, buf, cap);
    }
    if (size < 0 || (size_t)size > cap) {
        FAIL("getStandardMetadata(%s) failed, received %d with buffer size %zu", smt_name(type),
             size, cap);
        free(buf);
        return GET_FAILED;
    }
    for (size_t i = (size_t)size; i < cap; i++) {
        if (buf[i] != 0xA5) {
            FAIL("getStandardMetadata(%s) returned %d but wrote byte %zu", smt_name(type), size,
                 i);
            free(buf);
            return GET_FAILED;
        }
    }
    out->data = buf;
    out->size = (size_t)size;
    return GOT;
}

/* Gets a mandatory value: unsupported or failed is a failure of the case. */
static bool get_required(buffer_handle_t h, int64_t type, Blob* out) {
    int got = get_std(h, type, out);
    if (got == UNSUPPORTED) FAIL("getStandardMetadata(%s): UNSUPPORTED", smt_name(type));
    return got == GOT;
}

/* Types whose payload is one integer of the given width. */
static bool get_int(buffer_handle_t h, int64_t type, int width, int64_t* out) {
    Blob b;
    if (!get_required(h, type, &b)) return false;
    Reader r = reader(b.data, b.size);
    rd_header(&r, type);
    int64_t v = width == 8 ? rd_i64(&r) : (int64_t)rd_u32(&r);
    bool ok = rd_finish(&r, type);
    blob_free(&b);
    if (ok) *out = v;
    return ok;
}

static bool get_u64(buffer_handle_t h, int64_t type, uint64_t* out) {
    int64_t v;
    if (!get_int(h, type, 8, &v)) return false;
    *out = (uint64_t)v;
    return true;
}

static bool get_i32(buffer_handle_t h, int64_t type, int32_t* out) {
    int64_t v;
    if (!get_int(h, type, 4, &v)) return false;
    *out = (int32_t)(uint32_t)v;
    return true;
}

typedef struct {
    char name[128];
    int64_t value;
} Extendable;

static bool get_extendable(buffer_handle_t h, int64_t type, Extendable* out) {
    Blob b;
    if (!get_required(h, type, &b)) return false;
    Reader r = reader(b.data, b.size);
    rd_header(&r, type);
    rd_string(&r, out->name, sizeof out->name);
    out->value = rd_i64(&r);
    bool ok = rd_finish(&r, type);
    blob_free(&b);
    return ok;
}

#define MAX_PLANES 4
#define MAX_COMPONENTS 8

typedef struct {
    bool standard; /* type name is PlaneLayoutComponentType */
    int64_t type;
    int64_t offset_in_bits;
    int64_t size_in_bits;
} Component;

typedef struct {
    int num_components;
    Component components[MAX_COMPONENTS];
    int64_t offset_in_bytes;
    int64_t sample_increment_in_bits;
    int64_t stride_in_bytes;
    int64_t width_in_samples;
    int64_t height_in_samples;
    int64_t total_size_in_bytes;
    int64_t horizontal_subsampling;
    int64_t vertical_subsampling;
} Plane;

typedef struct {
    int num_planes;
    Plane planes[MAX_PLANES];
} PlaneLayouts;

static bool decode_plane_layouts(const Blob* b, PlaneLayouts* out) {
    memset(out, 0, sizeof *out);
    Reader r = reader(b->data, b->size);
    rd_header(&r, SMT_PLANE_LAYOUTS);
    int64_t planes = rd_i64(&r);
    if (r.ok && (planes < 0 || planes > MAX_PLANES)) rd_fail(&r, "implausible plane count");
    for (int64_t p = 0; r.ok && p < planes; p++) {
        Plane* pl = &out->planes[p];
        int64_t comps = rd_i64(&r);
        if (r.ok && (comps < 0 || comps > MAX_COMPONENTS)) {
            rd_fail(&r, "implausible component count");
            break;
        }
        for (int64_t c = 0; r.ok && c < comps; c++) {
            Component* co = &pl->components[c];
            char name[128];
            size_t len = rd_string(&r, name, sizeof name);
            co->standard = len == strlen(PLANE_COMPONENT_NAME) &&
                           memcmp(name, PLANE_COMPONENT_NAME, len) == 0;
            co->type = rd_i64(&r);
            co->offset_in_bits = rd_i64(&r);
            co->size_in_bits = rd_i64(&r);
        }
        pl->num_components = (int)comps;
        pl->offset_in_bytes = rd_i64(&r);
        pl->sample_increment_in_bits = rd_i64(&r);
        pl->stride_in_bytes = rd_i64(&r);
        pl->width_in_samples = rd_i64(&r);
        pl->height_in_samples = rd_i64(&r);
        pl->total_size_in_bytes = rd_i64(&r);
        pl->horizontal_subsampling = rd_i64(&r);
        pl->vertical_subsampling = rd_i64(&r);
    }
    out->num_planes = r.ok ? (int)planes : 0;
    return rd_finish(&r, SMT_PLANE_LAYOUTS);
}

static bool get_plane_layouts(buffer_handle_t h, PlaneLayouts* out) {
    Blob b;
    if (!get_required(h, SMT_PLANE_LAYOUTS, &b)) return false;
    bool ok = decode_plane_layouts(&b, out);
    blob_free(&b);
    return ok;
}

/* Writer for set: the same encoding. */
typedef struct {
    uint8_t data[256];
    size_t size;
} Writer;

static void wr(Writer* w, const void* p, size_t n) {
    if (w->size + n <= sizeof w->data) memcpy(w->data + w->size, p, n);
    w->size += n;
}
static void wr_i64(Writer* w, int64_t v) { wr(w, &v, 8); }
static void wr_i32(Writer* w, int32_t v) { wr(w, &v, 4); }
static void wr_f32(Writer* w, float v) { wr(w, &v, 4); }
static void wr_header(Writer* w, int64_t type) {
    wr_i64(w, (int64_t)strlen(STANDARD_METADATA_NAME));
    wr(w, STANDARD_METADATA_NAME, strlen(STANDARD_METADATA_NAME));
    wr_i64(w, type);
}

/* ---------------------------------------------------------------------------------------------
 * Pixel helpers (VTS's fill/verify patterns and the YCbCr view built from PLANE_LAYOUTS).
 * ------------------------------------------------------------------------------------------- */

static void fill_rgba(uint8_t* data, int32_t height, size_t stride_bytes, size_t width_bytes) {
    for (int32_t y = 0; y < height; y++) {
        memset(data, (uint8_t)y, width_bytes);
        data += stride_bytes;
    }
}

static void check_rgba8888_layouts(const PlaneLayouts* pl) {
    ASSERT(pl->num_planes == 1, "RGBA_8888: %d planes, expected 1", pl->num_planes);
    const Plane* p = &pl->planes[0];
    ASSERT(p->num_components == 4, "RGBA_8888: %d components, expected 4", p->num_components);
    int64_t r = -1, g = -1, b = -1, a = -1;
    for (int i = 0; i < p->num_components; i++) {
        const Component* c = &p->components[i];
        if (!c->standard) continue;
        EXPECT(c->size_in_bits == 8, "RGBA_8888 component 0x%" PRIx64 ": %" PRId64 " bits",
               c->type, c->size_in_bits);
        if (c->type == PLC_R) r = c->offset_in_bits;
        if (c->type == PLC_G) g = c->offset_in_bits;
        if (c->type == PLC_B) b = c->offset_in_bits;
        if (c->type == PLC_A) a = c->offset_in_bits;
    }
    EXPECT(r == 0 && g == 8 && b == 16 && a == 24,
           "RGBA_8888 offsets R %" PRId64 " G %" PRId64 " B %" PRId64 " A %" PRId64
           ", expected 0 8 16 24",
           r, g, b, a);
    EXPECT(p->offset_in_bytes == 0, "offsetInBytes %" PRId64, p->offset_in_bytes);
    EXPECT(p->sample_increment_in_bits == 32, "sampleIncrementInBits %" PRId64,
           p->sample_increment_in_bits);
    EXPECT(p->width_in_samples * p->height_in_samples * 4 <= p->total_size_in_bytes,
           "%" PRId64 "x%" PRId64 " samples do not fit totalSizeInBytes %" PRId64,
           p->width_in_samples, p->height_in_samples, p->total_size_in_bytes);
    EXPECT(p->horizontal_subsampling == 1 && p->vertical_subsampling == 1,
           "subsampling %" PRId64 "x%" PRId64, p->horizontal_subsampling,
           p->vertical_subsampling);
}

/* VTS's verifyRGBA8888: the layout from PLANE_LAYOUTS, then every row holds its row number. */
static void verify_rgba8888(buffer_handle_t h, const uint8_t* data, int32_t height,
                            size_t stride_bytes, size_t width_bytes) {
    PlaneLayouts pl;
    ASSERT(get_plane_layouts(h, &pl), "no PLANE_LAYOUTS");
    ASSERT(pl.num_planes > 0, "no planes");
    check_rgba8888_layouts(&pl);
    size_t wrong = 0;
    for (int32_t y = 0; y < height; y++) {
        for (size_t i = 0; i < width_bytes; i++) {
            if (data[i] != (uint8_t)y && wrong++ == 0) {
                FAIL("row %d byte %zu reads %u, wrote %u", y, i, data[i], (uint8_t)y);
            }
        }
        data += stride_bytes;
    }
    EXPECT(wrong == 0, "%zu bytes differ from what was written", wrong);
}

typedef struct {
    uint8_t* y;
    uint8_t* cb;
    uint8_t* cr;
    size_t ystride;
    size_t cstride;
    size_t chroma_step;
} YCbCr;

/* VTS's getAndroidYCbCr: an android_ycbcr view from PLANE_LAYOUTS. */
static bool get_ycbcr(buffer_handle_t h, uint8_t* data, YCbCr* out, int64_t* hsub, int64_t* vsub) {
    PlaneLayouts pl;
    ASSERT_B(get_plane_layouts(h, &pl), "no PLANE_LAYOUTS");
    ASSERT_B(pl.num_planes > 0, "no planes");
    memset(out, 0, sizeof *out);
    for (int p = 0; p < pl.num_planes; p++) {
        const Plane* plane = &pl.planes[p];
        for (int c = 0; c < plane->num_components; c++) {
            const Component* comp = &plane->components[c];
            if (!comp->standard) continue;
            ASSERT_B(comp->offset_in_bits % 8 == 0, "plane %d component offset %" PRId64 " bits",
                     p, comp->offset_in_bits);
            uint8_t* at = data + plane->offset_in_bytes + comp->offset_in_bits / 8;
            if (comp->type == PLC_Y) {
                ASSERT_B(out->y == NULL, "two Y components");
                ASSERT_B(comp->size_in_bits == 8, "Y is %" PRId64 " bits", comp->size_in_bits);
                ASSERT_B(plane->sample_increment_in_bits == 8, "Y increment %" PRId64 " bits",
                         plane->sample_increment_in_bits);
                out->y = at;
                out->ystride = (size_t)plane->stride_in_bytes;
            } else if (comp->type == PLC_CB || comp->type == PLC_CR) {
                ASSERT_B(plane->sample_increment_in_bits % 8 == 0,
                         "chroma increment %" PRId64 " bits", plane->sample_increment_in_bits);
                int64_t inc = plane->sample_increment_in_bits / 8;
                ASSERT_B(inc == 1 || inc == 2, "chroma increment %" PRId64 " bytes", inc);
                if (out->cstride == 0 && out->chroma_step == 0) {
                    out->cstride = (size_t)plane->stride_in_bytes;
                    out->chroma_step = (size_t)inc;
                } else {
                    ASSERT_B(out->cstride == (size_t)plane->stride_in_bytes &&
                                     out->chroma_step == (size_t)inc,
                             "Cb and Cr disagree on stride or step");
                }
                if (*hsub == 0 && *vsub == 0) {
                    *hsub = plane->horizontal_subsampling;
                    *vsub = plane->vertical_subsampling;
                } else {
                    ASSERT_B(*hsub == plane->horizontal_subsampling &&
                                     *vsub == plane->vertical_subsampling,
                             "chroma planes disagree on subsampling");
                }
                if (comp->type == PLC_CB) {
                    ASSERT_B(out->cb == NULL, "two Cb components");
                    out->cb = at;
                } else {
                    ASSERT_B(out->cr == NULL, "two Cr components");
                    out->cr = at;
                }
            }
        }
    }
    ASSERT_B(out->y != NULL && out->cb != NULL && out->cr != NULL, "missing Y, Cb or Cr");
    return true;
}

/* VTS's traverseYCbCrData: every sample gets (height * y + x), Cr one more than Cb. */
static void traverse_ycbcr(const YCbCr* ycc, int32_t width, int32_t height, int64_t hsub,
                           int64_t vsub, bool fill) {
    if (hsub <= 0 || vsub <= 0) {
        FAIL("subsampling %" PRId64 "x%" PRId64, hsub, vsub);
        return;
    }
    size_t wrong = 0;
#define VISIT(ptr, val)                                                                  \
    do {                                                                                 \
        uint8_t* p_ = (ptr);                                                             \
        uint8_t v_ = (uint8_t)(val);                                                     \
        if (fill) {                                                                      \
            *p_ = v_;                                                                    \
        } else if (*p_ != v_ && wrong++ == 0) {                                          \
            FAIL("sample at x %d y %d reads %u, wrote %u", (int)x, (int)y, *p_, v_);     \
        }                                                                                \
    } while (0)
    for (uint32_t y = 0; y < (uint32_t)height; y++) {
        for (uint32_t x = 0; x < (uint32_t)width; x++) {
            VISIT(ycc->y + ycc->ystride * y + x, (uint32_t)height * y + x);
            if (y % vsub == 0 && x % hsub == 0) {
                uint32_t sx = x / (uint32_t)hsub;
                uint32_t sy = y / (uint32_t)vsub;
                size_t off = ycc->cstride * sy + ycc->chroma_step * sx;
                uint8_t v = (uint8_t)((uint32_t)height * sy + sx);
                VISIT(ycc->cb + off, v);
                VISIT(ycc->cr + off, v + 1);
            }
        }
    }
#undef VISIT
    EXPECT(wrong == 0, "%zu samples differ from what was written", wrong);
}

/* ---------------------------------------------------------------------------------------------
 * The cases, in the order of VtsHalGraphicsMapperStableC_TargetTest.
 * ------------------------------------------------------------------------------------------- */

static void VersionChecks(void) {
    ASSERT(g_hal_version != NULL, "Resolving ANDROID_HAL_MAPPER_VERSION symbol failed");
    int32_t hal = *g_hal_version;
    EXPECT(hal == (int32_t)AIMAPPER_VERSION_5, "ANDROID_HAL_MAPPER_VERSION is %d", hal);
    EXPECT(g_mapper->version == AIMAPPER_VERSION_5, "AIMapper::version is %u", g_mapper->version);
    EXPECT((uint32_t)hal == g_mapper->version,
           "AIMapper version & ANDROID_HAL_MAPPER_VERSION don't agree");
    /* Not in VTS: the README's name for the same symbol; libraries should export both. */
    EXPECT(g_stablec_version != NULL, "ANDROID_HAL_STABLEC_VERSION is not exported");
    if (g_stablec_version != NULL) {
        EXPECT(*g_stablec_version == AIMAPPER_VERSION_5, "ANDROID_HAL_STABLEC_VERSION is %u",
               *g_stablec_version);
    }
}

static void AllV5CallbacksDefined(void) {
    ASSERT(g_mapper->version >= AIMAPPER_VERSION_5, "version %u", g_mapper->version);
    const AIMapperV5* m = mapper();
#define DEFINED(f) EXPECT(m->f != NULL, #f " is NULL")
    DEFINED(importBuffer);
    DEFINED(freeBuffer);
    DEFINED(getTransportSize);
    DEFINED(lock);
    DEFINED(unlock);
    DEFINED(flushLockedBuffer);
    DEFINED(rereadLockedBuffer);
    DEFINED(getMetadata);
    DEFINED(getStandardMetadata);
    DEFINED(setMetadata);
    DEFINED(setStandardMetadata);
    DEFINED(listSupportedMetadataTypes);
    DEFINED(dumpBuffer);
    DEFINED(dumpAllBuffers); /* not checked by VTS; the header says all must be non-null */
    DEFINED(getReservedRegion);
#undef DEFINED
}

static void DualLoadIsIdentical(void) {
    ASSERT(g_mapper->version >= AIMAPPER_VERSION_5, "version %u", g_mapper->version);
    AIMapper* second = NULL;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, g_loader(&second), "second AIMapper_loadIMapper");
    ASSERT(second != NULL, "second load returned NULL");
    const AIMapperV5* a = &second->v5;
    const AIMapperV5* b = mapper();
#define SAME(f) EXPECT(a->f == b->f, #f " differs between loads")
    SAME(importBuffer);
    SAME(freeBuffer);
    SAME(getTransportSize);
    SAME(lock);
    SAME(unlock);
    SAME(flushLockedBuffer);
    SAME(rereadLockedBuffer);
    SAME(getMetadata);
    SAME(getStandardMetadata);
    SAME(setMetadata);
    SAME(setStandardMetadata);
    SAME(listSupportedMetadataTypes);
    SAME(dumpBuffer);
    SAME(dumpAllBuffers);
    SAME(getReservedRegion);
#undef SAME
}

static void CanAllocate(void) {
    Allocation* b = allocate(generic_desc());
    ASSERT(b != NULL, "64x64 RGBA_8888 CPU allocation failed");
    EXPECT(b->stride >= 64, "stride %d < 64", b->stride);
}

static void ImportFreeBuffer(void) {
    Allocation* b = allocate(generic_desc());
    ASSERT(b != NULL, "allocation failed");
    EXPECT(b->stride >= 64, "stride %d < 64", b->stride);
    buffer_handle_t i1 = import_buffer(b);
    buffer_handle_t i2 = import_buffer(b);
    EXPECT(i1 != NULL && i2 != NULL, "import failed");
    EXPECT(i1 != i2, "two imports of one raw handle returned the same handle");
}

static void ImportFreeBufferSingleton(void) {
    Allocation* b = allocate(generic_desc());
    ASSERT(b != NULL, "allocation failed");
    EXPECT(b->stride >= 64, "stride %d < 64", b->stride);
    buffer_handle_t h = NULL;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->importBuffer(b->raw, &h), "importBuffer");
    ASSERT(h != NULL, "importBuffer returned NULL");
    AIMapper* second = NULL;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, g_loader(&second), "second AIMapper_loadIMapper");
    ASSERT_ERR(AIMAPPER_ERROR_NONE, second->v5.freeBuffer(h), "freeBuffer through the second load");
}

static void ImportBufferNegative(void) {
    buffer_handle_t h = NULL;
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->importBuffer(NULL, &h), "importBuffer(NULL)");
    native_handle_t* empty = nh_create(0, 0);
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->importBuffer(empty, &h),
               "importBuffer(native_handle_create(0, 0))");
    nh_delete(empty);
}

static void FreeBufferNegative(void) {
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->freeBuffer(NULL), "freeBuffer(NULL)");
    native_handle_t* empty = nh_create(0, 0);
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->freeBuffer(empty),
               "freeBuffer(native_handle_create(0, 0))");
    nh_delete(empty);
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->freeBuffer(b->raw),
               "freeBuffer of an un-imported handle");
}

static void LockUnlockBasic(void) {
    const uint64_t usage = USAGE_CPU_WRITE_OFTEN | USAGE_CPU_READ_OFTEN;
    Desc d = generic_desc();
    d.usage = usage;
    Allocation* b = allocate(d);
    ASSERT(b != NULL, "allocation failed");
    ARect region = full_region(b);
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint8_t* data = NULL;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->lock(h, usage, region, -1, (void**)&data),
               "lock for writing");
    ASSERT(data != NULL, "lock returned NULL data");
    fill_rgba(data, d.height, (size_t)b->stride * 4, (size_t)d.width * 4);
    int fence = -1;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(h, &fence), "unlock");
    /* The release fence goes back in as the acquire fence; the mapper owns it from here. */
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->lock(h, usage, region, fence, (void**)&data),
               "lock for reading");
    verify_rgba8888(h, data, d.height, (size_t)b->stride * 4, (size_t)d.width * 4);
    fence = -1;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(h, &fence), "second unlock");
    close_fence(fence);
}

/* The write/unlock/lock/verify round of the YCbCr lock cases; extra_check runs on the view. */
typedef void (*YCbCrCheck)(const YCbCr* ycc, const Desc* d, int64_t vsub);

static void ycbcr_round_trip(Allocation* b, YCbCrCheck extra_check) {
    const Desc* d = &b->info;
    ARect region = full_region(b);
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint8_t* data = NULL;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->lock(h, d->usage, region, -1, (void**)&data),
               "lock for writing");
    YCbCr ycc;
    int64_t hsub = 0, vsub = 0;
    ASSERT(get_ycbcr(h, data, &ycc, &hsub, &vsub), "no YCbCr view");
    ASSERT(hsub == 2 && vsub == 2, "chroma subsampling %" PRId64 "x%" PRId64 ", expected 2x2",
           hsub, vsub);
    if (extra_check) {
        int before = g_case_failures;
        extra_check(&ycc, d, vsub);
        if (g_case_failures != before) return;
    }
    traverse_ycbcr(&ycc, d->width, d->height, hsub, vsub, true);
    int fence = -1;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(h, &fence), "unlock");
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->lock(h, d->usage, region, fence, (void**)&data),
               "lock for reading");
    ASSERT(get_ycbcr(h, data, &ycc, &hsub, &vsub), "no YCbCr view on the second lock");
    traverse_ycbcr(&ycc, d->width, d->height, hsub, vsub, false);
    fence = -1;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(h, &fence), "second unlock");
    close_fence(fence);
}

static Desc yuv_desc(int32_t format) {
    Desc d = generic_desc();
    d.format = format;
    return d;
}

static void nv21_check(const YCbCr* ycc, const Desc* d, int64_t vsub) {
    (void)d;
    (void)vsub;
    ASSERT(ycc->cr + 1 == ycc->cb, "NV21: Cb is not right after Cr");
    ASSERT(ycc->chroma_step == 2, "NV21: chroma step %zu", ycc->chroma_step);
}

static void Lock_YCRCB_420_SP(void) {
    Desc d = yuv_desc(FMT_YCRCB_420_SP);
    Allocation* b = allocate(d);
    if (b == NULL) {
        ASSERT(!is_supported(d), "allocation failed but isSupported is true");
        return; /* optional format: VTS counts this as success */
    }
    ycbcr_round_trip(b, nv21_check);
}

static void YV12SubsampleMetadata(void) {
    Desc d = yuv_desc(FMT_YV12);
    Allocation* b = allocate(d);
    ASSERT(b != NULL, "YV12 allocation failed (YV12 is mandatory)");
    ARect region = full_region(b);
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint8_t* data = NULL;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->lock(h, d.usage, region, -1, (void**)&data), "lock");
    PlaneLayouts pl;
    ASSERT(get_plane_layouts(h, &pl), "no PLANE_LAYOUTS");
    ASSERT(pl.num_planes == 3, "%d planes, expected 3", pl.num_planes);
    const Plane* y = &pl.planes[0];
    const Plane* cr = &pl.planes[1];
    const Plane* cb = &pl.planes[2];
    EXPECT(cr->horizontal_subsampling == 2 && cr->vertical_subsampling == 2,
           "Cr subsampling %" PRId64 "x%" PRId64, cr->horizontal_subsampling,
           cr->vertical_subsampling);
    EXPECT(cb->horizontal_subsampling == 2 && cb->vertical_subsampling == 2,
           "Cb subsampling %" PRId64 "x%" PRId64, cb->horizontal_subsampling,
           cb->vertical_subsampling);
    EXPECT(y->width_in_samples == d.width && y->height_in_samples == d.height,
           "Y samples %" PRId64 "x%" PRId64, y->width_in_samples, y->height_in_samples);
    EXPECT(cr->width_in_samples == d.width / 2 && cr->height_in_samples == d.height / 2,
           "Cr samples %" PRId64 "x%" PRId64, cr->width_in_samples, cr->height_in_samples);
    EXPECT(cb->width_in_samples == d.width / 2 && cb->height_in_samples == d.height / 2,
           "Cb samples %" PRId64 "x%" PRId64, cb->width_in_samples, cb->height_in_samples);
    EXPECT(cr->width_in_samples <= cr->stride_in_bytes, "Cr stride %" PRId64 " < width",
           cr->stride_in_bytes);
    EXPECT(cb->width_in_samples <= cb->stride_in_bytes, "Cb stride %" PRId64 " < width",
           cb->stride_in_bytes);
    /* Not in VTS: the planes must be Y, Cr, Cb in that order (what makes it YV12). */
    EXPECT(y->num_components == 1 && y->components[0].type == PLC_Y, "plane 0 is not Y");
    EXPECT(cr->num_components == 1 && cr->components[0].type == PLC_CR, "plane 1 is not Cr");
    EXPECT(cb->num_components == 1 && cb->components[0].type == PLC_CB, "plane 2 is not Cb");
    int fence = -1;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(h, &fence), "unlock");
    close_fence(fence);
}

static void yv12_check(const YCbCr* ycc, const Desc* d, int64_t vsub) {
    ASSERT(ycc->cr + ycc->cstride * (size_t)d->height / (size_t)vsub == ycc->cb,
           "YV12: Cb does not follow Cr at cstride * height / 2");
    ASSERT(ycc->chroma_step == 1, "YV12: chroma step %zu", ycc->chroma_step);
}

static void Lock_YV12(void) {
    Allocation* b = allocate(yuv_desc(FMT_YV12));
    ASSERT(b != NULL, "YV12 allocation failed (YV12 is mandatory)");
    ycbcr_round_trip(b, yv12_check);
}

static void Lock_YCBCR_420_888(void) {
    Allocation* b = allocate(yuv_desc(FMT_YCBCR_420_888));
    ASSERT(b != NULL, "YCBCR_420_888 allocation failed (it is mandatory)");
    ycbcr_round_trip(b, NULL);
}

static void lock_raw(int32_t format) {
    Desc d = yuv_desc(format);
    Allocation* b = allocate(d);
    if (b == NULL) {
        ASSERT(!is_supported(d), "allocation failed but isSupported is true");
        return;
    }
    ARect region = full_region(b);
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint8_t* data = NULL;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->lock(h, d.usage, region, -1, (void**)&data), "lock");
    PlaneLayouts pl;
    ASSERT(get_plane_layouts(h, &pl), "no PLANE_LAYOUTS");
    ASSERT(pl.num_planes == 1, "%d planes, expected 1", pl.num_planes);
    const Plane* p = &pl.planes[0];
    EXPECT(p->sample_increment_in_bits == 0, "sampleIncrementInBits %" PRId64,
           p->sample_increment_in_bits);
    EXPECT(p->horizontal_subsampling == 1 && p->vertical_subsampling == 1,
           "subsampling %" PRId64 "x%" PRId64, p->horizontal_subsampling,
           p->vertical_subsampling);
    ASSERT(p->num_components == 1, "%d components, expected 1", p->num_components);
    const Component* c = &p->components[0];
    EXPECT(c->type == PLC_RAW, "component type 0x%" PRIx64 ", expected RAW", c->type);
    EXPECT(c->offset_in_bits % 8 == 0, "component offset %" PRId64 " bits", c->offset_in_bits);
    EXPECT(c->size_in_bits == -1, "component size %" PRId64 " bits, expected -1",
           c->size_in_bits);
    int fence = -1;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(h, &fence), "unlock");
    close_fence(fence);
}

static void Lock_RAW10(void) { lock_raw(FMT_RAW10); }
static void Lock_RAW12(void) { lock_raw(FMT_RAW12); }

/* VTS's getAndroidYCbCr_P010. */
static bool get_ycbcr_p010(buffer_handle_t h, uint8_t* data, YCbCr* out, int64_t* hsub,
                           int64_t* vsub) {
    PlaneLayouts pl;
    ASSERT_B(get_plane_layouts(h, &pl), "no PLANE_LAYOUTS");
    EXPECT(pl.num_planes == 2, "%d planes, expected 2", pl.num_planes);
    ASSERT_B(pl.num_planes >= 2, "fewer than 2 planes");
    EXPECT(pl.planes[0].num_components == 1, "plane 0 has %d components",
           pl.planes[0].num_components);
    EXPECT(pl.planes[1].num_components == 2, "plane 1 has %d components",
           pl.planes[1].num_components);
    memset(out, 0, sizeof *out);
    int64_t cb_offset = 0, cr_offset = 0;
    for (int p = 0; p < pl.num_planes; p++) {
        const Plane* plane = &pl.planes[p];
        for (int c = 0; c < plane->num_components; c++) {
            const Component* comp = &plane->components[c];
            if (!comp->standard) continue;
            uint8_t* at = data + plane->offset_in_bytes + comp->offset_in_bits / 8;
            if (comp->type == PLC_Y) {
                EXPECT(comp->offset_in_bits == 6, "Y offset %" PRId64 " bits, expected 6",
                       comp->offset_in_bits);
                EXPECT(out->y == NULL, "two Y components");
                EXPECT(comp->size_in_bits == 10, "Y is %" PRId64 " bits, expected 10",
                       comp->size_in_bits);
                EXPECT(plane->sample_increment_in_bits == 16, "Y increment %" PRId64,
                       plane->sample_increment_in_bits);
                out->y = at;
                out->ystride = (size_t)plane->stride_in_bytes;
            } else if (comp->type == PLC_CB || comp->type == PLC_CR) {
                int64_t inc = plane->sample_increment_in_bits / 8;
                EXPECT(inc == 4, "chroma increment %" PRId64 " bytes, expected 4", inc);
                if (out->cstride == 0 && out->chroma_step == 0) {
                    out->cstride = (size_t)plane->stride_in_bytes;
                    out->chroma_step = (size_t)inc;
                } else {
                    EXPECT(out->cstride == (size_t)plane->stride_in_bytes &&
                                   out->chroma_step == (size_t)inc,
                           "Cb and Cr disagree on stride or step");
                }
                if (*hsub == 0 && *vsub == 0) {
                    *hsub = plane->horizontal_subsampling;
                    *vsub = plane->vertical_subsampling;
                } else {
                    EXPECT(*hsub == plane->horizontal_subsampling &&
                                   *vsub == plane->vertical_subsampling,
                           "chroma components disagree on subsampling");
                }
                if (comp->type == PLC_CB) {
                    EXPECT(out->cb == NULL, "two Cb components");
                    out->cb = at;
                    cb_offset = comp->offset_in_bits;
                } else {
                    EXPECT(out->cr == NULL, "two Cr components");
                    out->cr = at;
                    cr_offset = comp->offset_in_bits;
                }
            }
        }
    }
    EXPECT(cb_offset + 16 == cr_offset, "Cr at bit %" PRId64 ", Cb at %" PRId64, cr_offset,
           cb_offset);
    ASSERT_B(out->y != NULL && out->cb != NULL && out->cr != NULL, "missing Y, Cb or Cr");
    return true;
}

static void Lock_YCBCR_P010(void) {
    Desc d = yuv_desc(FMT_YCBCR_P010);
    Allocation* b = allocate(d);
    if (b == NULL) {
        ASSERT(!is_supported(d), "allocation failed but isSupported is true");
        return;
    }
    ARect region = full_region(b);
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint8_t* data = NULL;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->lock(h, d.usage, region, -1, (void**)&data), "lock");
    YCbCr ycc;
    int64_t hsub = 0, vsub = 0;
    ASSERT(get_ycbcr_p010(h, data, &ycc, &hsub, &vsub), "no P010 view");
    ASSERT(hsub == 2 && vsub == 2, "chroma subsampling %" PRId64 "x%" PRId64, hsub, vsub);
    traverse_ycbcr(&ycc, d.width, d.height, hsub, vsub, true);
    traverse_ycbcr(&ycc, d.width, d.height, hsub, vsub, false);
    int fence = -1;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(h, &fence), "unlock");
    close_fence(fence);
}

static void LockBadAccessRegion(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    ARect region = {0, 0, b->info.width * 2, b->info.height * 2};
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint8_t* data = NULL;
    EXPECT_ERR(AIMAPPER_ERROR_BAD_VALUE,
               mapper()->lock(h, b->info.usage, region, -1, (void**)&data),
               "lock of a region twice the buffer's size");
}

static void UnlockNegative(void) {
    int fence = -1;
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->unlock(NULL, &fence), "unlock(NULL)");
    native_handle_t* empty = nh_create(0, 0);
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->unlock(empty, &fence),
               "unlock(native_handle_create(0, 0))");
    nh_delete(empty);
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->unlock(b->raw, &fence),
               "unlock of an un-imported handle");
}

static void UnlockNotImported(void) {
    int fence = -1;
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->unlock(b->raw, &fence),
               "unlock of an un-imported handle");
}

static void UnlockNotLocked(void) {
    int fence = -1;
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->unlock(h, &fence),
               "unlock of an imported, unlocked handle");
}

static void LockUnlockNested(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t unused = import_buffer(b);
    ASSERT(unused != NULL, "import failed");
    ARect region = full_region(b);
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint8_t* data = NULL;
    EXPECT_ERR(AIMAPPER_ERROR_NONE, mapper()->lock(h, b->info.usage, region, -1, (void**)&data),
               "first lock");
    EXPECT_ERR(AIMAPPER_ERROR_NONE, mapper()->lock(h, b->info.usage, region, -1, (void**)&data),
               "second lock");
    int fence = -1;
    EXPECT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(h, &fence), "first unlock");
    close_fence(fence);
    fence = -1;
    EXPECT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(h, &fence), "second unlock");
    close_fence(fence);
    fence = -1;
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->unlock(h, &fence), "third, unmatched unlock");
}

static void FlushRereadBasic(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t unused = import_buffer(b);
    ASSERT(unused != NULL, "import failed");
    ARect region = full_region(b);
    buffer_handle_t wh = import_buffer(b);
    buffer_handle_t rh = import_buffer(b);
    ASSERT(wh != NULL && rh != NULL, "import failed");
    uint8_t* wdata = NULL;
    uint8_t* rdata = NULL;
    EXPECT_ERR(AIMAPPER_ERROR_NONE,
               mapper()->lock(wh, USAGE_CPU_WRITE_OFTEN, region, -1, (void**)&wdata),
               "lock for writing");
    EXPECT_ERR(AIMAPPER_ERROR_NONE,
               mapper()->lock(rh, USAGE_CPU_READ_OFTEN, region, -1, (void**)&rdata),
               "lock for reading");
    ASSERT(wdata != NULL && rdata != NULL, "lock returned NULL data");
    fill_rgba(wdata, b->info.height, (size_t)b->stride * 4, (size_t)b->info.width * 4);
    EXPECT_ERR(AIMAPPER_ERROR_NONE, mapper()->flushLockedBuffer(wh), "flushLockedBuffer");
    EXPECT_ERR(AIMAPPER_ERROR_NONE, mapper()->rereadLockedBuffer(rh), "rereadLockedBuffer");
    verify_rgba8888(rh, rdata, b->info.height, (size_t)b->stride * 4, (size_t)b->info.width * 4);
    int fence = -1;
    EXPECT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(rh, &fence), "unlock reader");
    close_fence(fence);
    fence = -1;
    EXPECT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(wh, &fence), "unlock writer");
    close_fence(fence);
}

static void FlushLockedBufferBadBuffer(void) {
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->flushLockedBuffer(NULL),
               "flushLockedBuffer(NULL)");
}

static void RereadLockedBufferBadBuffer(void) {
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->rereadLockedBuffer(NULL),
               "rereadLockedBuffer(NULL)");
}

static void GetBufferId(void) {
    Allocation* b1 = allocate_generic();
    ASSERT(b1 != NULL, "allocation failed");
    buffer_handle_t h1 = import_buffer(b1);
    ASSERT(h1 != NULL, "import failed");
    uint64_t id1, id2;
    ASSERT(get_u64(h1, SMT_BUFFER_ID, &id1), "no BUFFER_ID");
    Allocation* b2 = allocate_generic();
    ASSERT(b2 != NULL, "allocation failed");
    buffer_handle_t h2 = import_buffer(b2);
    ASSERT(h2 != NULL, "import failed");
    ASSERT(get_u64(h2, SMT_BUFFER_ID, &id2), "no BUFFER_ID");
    EXPECT(id1 != id2, "two buffers share BUFFER_ID %" PRIu64, id1);
}

static void GetName(void) {
    Desc d = generic_desc();
    d.name = "Hello, World!";
    Allocation* b = allocate(d);
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    Blob blob;
    ASSERT(get_required(h, SMT_NAME, &blob), "no NAME");
    Reader r = reader(blob.data, blob.size);
    rd_header(&r, SMT_NAME);
    char name[256];
    rd_string(&r, name, sizeof name);
    bool ok = rd_finish(&r, SMT_NAME);
    blob_free(&blob);
    if (ok) EXPECT(strcmp(name, "Hello, World!") == 0, "NAME is \"%s\"", name);
}

static void GetWidthHeight(void) {
    Desc d = generic_desc();
    d.name = "Hello, World!";
    d.height = 128;
    Allocation* b = allocate(d);
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint64_t v;
    ASSERT(get_u64(h, SMT_WIDTH, &v), "no WIDTH");
    EXPECT(v == 64, "WIDTH %" PRIu64, v);
    ASSERT(get_u64(h, SMT_HEIGHT, &v), "no HEIGHT");
    EXPECT(v == 128, "HEIGHT %" PRIu64, v);
}

static void GetLayerCount(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint64_t v;
    ASSERT(get_u64(h, SMT_LAYER_COUNT, &v), "no LAYER_COUNT");
    EXPECT(v == (uint64_t)b->info.layer_count, "LAYER_COUNT %" PRIu64, v);
}

static void GetPixelFormatRequested(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    int32_t v;
    ASSERT(get_i32(h, SMT_PIXEL_FORMAT_REQUESTED, &v), "no PIXEL_FORMAT_REQUESTED");
    EXPECT(v == b->info.format, "PIXEL_FORMAT_REQUESTED 0x%x", v);
}

static void GetPixelFormatFourCC(void) {
    Desc d = generic_desc();
    d.name = "Hello, World!";
    d.height = 128;
    Allocation* b = allocate(d);
    ASSERT(b != NULL, "RGBA_8888 allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    int32_t v;
    ASSERT(get_i32(h, SMT_PIXEL_FORMAT_FOURCC, &v), "no PIXEL_FORMAT_FOURCC");
    EXPECT((uint32_t)v == DRM_FORMAT_ABGR8888, "RGBA_8888 fourcc 0x%08x, expected AB24",
           (uint32_t)v);
    d.name = "yv12";
    d.format = FMT_YV12;
    b = allocate(d);
    ASSERT(b != NULL, "YV12 allocation failed");
    h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    ASSERT(get_i32(h, SMT_PIXEL_FORMAT_FOURCC, &v), "no PIXEL_FORMAT_FOURCC");
    EXPECT((uint32_t)v == DRM_FORMAT_YVU420, "YV12 fourcc 0x%08x, expected YV12", (uint32_t)v);
}

static void GetPixelFormatModifier(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint64_t v;
    /* Vendor-defined beyond the top byte: that it decodes is all VTS asks. */
    ASSERT(get_u64(h, SMT_PIXEL_FORMAT_MODIFIER, &v), "no PIXEL_FORMAT_MODIFIER");
}

static void GetUsage(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint64_t v;
    ASSERT(get_u64(h, SMT_USAGE, &v), "no USAGE");
    EXPECT(v == b->info.usage, "USAGE 0x%" PRIx64 ", requested 0x%" PRIx64, v, b->info.usage);
}

static void GetUsage64(void) {
    Desc d = generic_desc();
    d.usage = USAGE_FRONT_BUFFER | USAGE_GPU_RENDER_TARGET | USAGE_COMPOSER_OVERLAY |
              USAGE_GPU_TEXTURE;
    if (!is_supported(d)) {
        skip_case("isSupported(FRONT_BUFFER | GPU_RENDER_TARGET | COMPOSER_OVERLAY | "
                  "GPU_TEXTURE) is false (VTS skips too)");
        return;
    }
    Allocation* b = allocate(d);
    ASSERT(b != NULL, "isSupported is true but the allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint64_t v;
    ASSERT(get_u64(h, SMT_USAGE, &v), "no USAGE");
    EXPECT(v == d.usage, "USAGE 0x%" PRIx64 ", requested 0x%" PRIx64, v, d.usage);
}

static void GetAllocationSize(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint64_t v;
    ASSERT(get_u64(h, SMT_ALLOCATION_SIZE, &v), "no ALLOCATION_SIZE");
    uint64_t estimated = (uint64_t)b->stride * (uint64_t)b->info.height * 4;
    EXPECT(v >= estimated, "ALLOCATION_SIZE %" PRIu64 " < stride * height * 4 = %" PRIu64, v,
           estimated);
    EXPECT(v < estimated * 2, "ALLOCATION_SIZE %" PRIu64 " >= twice stride * height * 4 = %" PRIu64,
           v, estimated * 2);
}

static void GetProtectedContent(void) {
    Desc d = generic_desc();
    d.name = "prot8888";
    d.usage = USAGE_PROTECTED | USAGE_COMPOSER_OVERLAY;
    Allocation* b = allocate(d);
    if (b == NULL) {
        ASSERT(!is_supported(d),
               "Allocation of trivial sized buffer failed, so isSupported() must be false");
        return; /* VTS: success, PROTECTED RGBA_8888 is unsupported */
    }
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint64_t v;
    ASSERT(get_u64(h, SMT_PROTECTED_CONTENT, &v), "no PROTECTED_CONTENT");
    EXPECT(v == 1, "PROTECTED_CONTENT %" PRIu64 ", expected 1", v);
}

static void check_extendable_none(int64_t type, const char* expected_name) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    Extendable v;
    ASSERT(get_extendable(h, type, &v), "no %s", smt_name(type));
    EXPECT(strcmp(v.name, expected_name) == 0, "%s name \"%s\", expected \"%s\"", smt_name(type),
           v.name, expected_name);
    EXPECT(v.value == 0, "%s value %" PRId64 ", expected 0 (NONE)", smt_name(type), v.value);
}

static void GetCompression(void) { check_extendable_none(SMT_COMPRESSION, COMPRESSION_NAME); }
static void GetInterlaced(void) { check_extendable_none(SMT_INTERLACED, INTERLACED_NAME); }
static void GetChromaSiting(void) {
    check_extendable_none(SMT_CHROMA_SITING, CHROMA_SITING_NAME);
}

static void GetPlaneLayouts(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    PlaneLayouts pl;
    ASSERT(get_plane_layouts(h, &pl), "no PLANE_LAYOUTS");
    check_rgba8888_layouts(&pl);
}

static void GetCrop(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    Blob blob;
    ASSERT(get_required(h, SMT_CROP, &blob), "no CROP");
    Reader r = reader(blob.data, blob.size);
    rd_header(&r, SMT_CROP);
    int64_t count = rd_i64(&r);
    int32_t rect[4] = {0, 0, 0, 0};
    if (r.ok && (count < 0 || count > 16)) rd_fail(&r, "implausible rect count");
    for (int64_t i = 0; r.ok && i < count; i++) {
        int32_t l = rd_i32(&r), t = rd_i32(&r), rr = rd_i32(&r), bb = rd_i32(&r);
        if (i == 0) {
            rect[0] = l;
            rect[1] = t;
            rect[2] = rr;
            rect[3] = bb;
        }
    }
    bool ok = rd_finish(&r, SMT_CROP);
    blob_free(&blob);
    ASSERT(ok, "CROP does not decode");
    EXPECT(count == 1, "%" PRId64 " crop rects, expected 1", count);
    EXPECT(rect[0] == 0 && rect[1] == 0 && rect[2] == b->info.width && rect[3] == b->info.height,
           "crop {%d, %d, %d, %d}, expected {0, 0, %d, %d}", rect[0], rect[1], rect[2], rect[3],
           b->info.width, b->info.height);
}

static AIMapper_Error set_i32(buffer_handle_t h, int64_t type, int32_t value) {
    Writer w = {.size = 0};
    wr_header(&w, type);
    wr_i32(&w, value);
    return mapper()->setStandardMetadata(h, type, w.data, w.size);
}

static void GetSetDataspace(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    int32_t v;
    ASSERT(get_i32(h, SMT_DATASPACE, &v), "no DATASPACE");
    EXPECT(v == DATASPACE_UNKNOWN, "default DATASPACE 0x%x, expected UNKNOWN", v);
    EXPECT_ERR(AIMAPPER_ERROR_NONE, set_i32(h, SMT_DATASPACE, DATASPACE_DISPLAY_P3),
               "set DATASPACE DISPLAY_P3");
    ASSERT(get_i32(h, SMT_DATASPACE, &v), "no DATASPACE after set");
    EXPECT(v == DATASPACE_DISPLAY_P3, "DATASPACE 0x%x after setting DISPLAY_P3", v);
}

static void GetSetBlendMode(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    int32_t v;
    ASSERT(get_i32(h, SMT_BLEND_MODE, &v), "no BLEND_MODE");
    EXPECT(v == BLEND_MODE_INVALID, "default BLEND_MODE %d, expected INVALID", v);
    EXPECT_ERR(AIMAPPER_ERROR_NONE, set_i32(h, SMT_BLEND_MODE, BLEND_MODE_COVERAGE),
               "set BLEND_MODE COVERAGE");
    ASSERT(get_i32(h, SMT_BLEND_MODE, &v), "no BLEND_MODE after set");
    EXPECT(v == BLEND_MODE_COVERAGE, "BLEND_MODE %d after setting COVERAGE", v);
}

/*
 * An optional float-tuple type (SMPTE2086: 10 floats, CTA861_3: 2): present is set when the
 * mapper returned a value; an empty blob means unset.
 */
static bool get_optional_floats(buffer_handle_t h, int64_t type, int n, float* out,
                                bool* present) {
    Blob blob;
    if (!get_required(h, type, &blob)) return false;
    if (blob.size == 0) {
        *present = false;
        blob_free(&blob);
        return true;
    }
    Reader r = reader(blob.data, blob.size);
    rd_header(&r, type);
    for (int i = 0; i < n; i++) out[i] = rd_f32(&r);
    bool ok = rd_finish(&r, type);
    blob_free(&blob);
    *present = ok;
    return ok;
}

static AIMapper_Error set_optional_floats(buffer_handle_t h, int64_t type, int n,
                                          const float* values) {
    if (values == NULL) {
        /* std::nullopt: VTS sets zero bytes, from an empty vector's data() (NULL). */
        return mapper()->setStandardMetadata(h, type, NULL, 0);
    }
    Writer w = {.size = 0};
    wr_header(&w, type);
    for (int i = 0; i < n; i++) wr_f32(&w, values[i]);
    return mapper()->setStandardMetadata(h, type, w.data, w.size);
}

static void optional_floats_round_trip(int64_t type, int n, const float* values) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    float got[10];
    bool present = true;
    ASSERT(get_optional_floats(h, type, n, got, &present), "no %s", smt_name(type));
    EXPECT(!present, "%s is set on a fresh buffer", smt_name(type));
    EXPECT_ERR(AIMAPPER_ERROR_NONE, set_optional_floats(h, type, n, values), "set a value");
    ASSERT(get_optional_floats(h, type, n, got, &present), "no %s after set", smt_name(type));
    ASSERT(present, "%s is unset after setting it", smt_name(type));
    for (int i = 0; i < n; i++) {
        EXPECT(memcmp(&got[i], &values[i], sizeof(float)) == 0, "%s field %d reads %g, set %g",
               smt_name(type), i, (double)got[i], (double)values[i]);
    }
    EXPECT_ERR(AIMAPPER_ERROR_NONE, set_optional_floats(h, type, n, NULL), "clear (size 0)");
    ASSERT(get_optional_floats(h, type, n, got, &present), "no %s after clear", smt_name(type));
    EXPECT(!present, "%s still set after clearing it", smt_name(type));
}

static void GetSetSmpte2086(void) {
    /* primaries red, green, blue, white point (x, y each), max and min luminance */
    const float hdr[10] = {1.f, 1.f, 2.f, 2.f, 3.f, 3.f, 400.f, 1000.f, 100000.0f, 0.0001f};
    optional_floats_round_trip(SMT_SMPTE2086, 10, hdr);
}

static void GetCta861_3(void) {
    const float hlgish[2] = {1000.f, 140.f};
    optional_floats_round_trip(SMT_CTA861_3, 2, hlgish);
}

/* SMPTE2094_10 / _40: optional byte vectors; if the mapper supports them they start unset. */
static void check_optional_bytes_unset(int64_t type) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    Blob blob;
    int got = get_std(h, type, &blob);
    if (got != GOT) return; /* unsupported: allowed; any other error was recorded */
    if (blob.size != 0) {
        Reader r = reader(blob.data, blob.size);
        rd_header(&r, type);
        int64_t len = rd_i64(&r);
        if (r.ok && (len < 0 || (uint64_t)len != r.size - r.off)) rd_fail(&r, "bad length");
        if (r.ok) r.off = r.size;
        if (rd_finish(&r, type)) FAIL("%s is set on a fresh buffer", smt_name(type));
    }
    blob_free(&blob);
}

static void GetSmpte2094_10(void) { check_optional_bytes_unset(SMT_SMPTE2094_10); }
static void GetSmpte2094_40(void) { check_optional_bytes_unset(SMT_SMPTE2094_40); }

static void GetStride(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    int32_t v;
    ASSERT(get_i32(h, SMT_STRIDE, &v), "no STRIDE");
    EXPECT(v == b->stride, "STRIDE %d, AllocationResult.stride %d", v, b->stride);
}

static bool is_standard(AIMapper_MetadataType t) {
    return t.name != NULL && strcmp(t.name, STANDARD_METADATA_NAME) == 0;
}

static bool list_types(const AIMapper_MetadataTypeDescription** list, size_t* count) {
    *list = NULL;
    *count = 0;
    AIMapper_Error e = mapper()->listSupportedMetadataTypes(list, count);
    ASSERT_B(e == AIMAPPER_ERROR_NONE, "listSupportedMetadataTypes: %s", err_name(e));
    ASSERT_B(*list != NULL || *count == 0, "listSupportedMetadataTypes returned a NULL list");
    for (size_t i = 0; i < *count; i++) {
        ASSERT_B((*list)[i].metadataType.name != NULL, "entry %zu has a NULL name", i);
    }
    return true;
}

static void SupportsRequiredGettersSetters(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    const AIMapper_MetadataTypeDescription* list;
    size_t count;
    ASSERT(list_types(&list, &count), "no list");
    static const int64_t getters[] = {
            SMT_BUFFER_ID,   SMT_NAME,          SMT_WIDTH,         SMT_HEIGHT,
            SMT_LAYER_COUNT, SMT_PIXEL_FORMAT_REQUESTED,           SMT_PIXEL_FORMAT_FOURCC,
            SMT_PIXEL_FORMAT_MODIFIER,          SMT_USAGE,         SMT_ALLOCATION_SIZE,
            SMT_PROTECTED_CONTENT,              SMT_COMPRESSION,   SMT_INTERLACED,
            SMT_CHROMA_SITING,                  SMT_PLANE_LAYOUTS, SMT_CROP,
            SMT_DATASPACE,   SMT_BLEND_MODE,    SMT_SMPTE2086,     SMT_CTA861_3,
            SMT_STRIDE,
    };
    static const int64_t setters[] = {SMT_DATASPACE, SMT_BLEND_MODE, SMT_SMPTE2086,
                                      SMT_CTA861_3};
    bool gettable[SMT_ENUM_SIZE] = {false};
    bool settable[SMT_ENUM_SIZE] = {false};
    for (size_t i = 0; i < count; i++) {
        const AIMapper_MetadataTypeDescription* it = &list[i];
        if (is_standard(it->metadataType)) {
            int64_t v = it->metadataType.value;
            EXPECT(v > SMT_INVALID, "standard type %" PRId64 " listed", v);
            EXPECT(v < SMT_ENUM_SIZE, "standard type %" PRId64 " is past the enum", v);
            if (v > SMT_INVALID && v < SMT_ENUM_SIZE) {
                if (it->isGettable) gettable[v] = true;
                if (it->isSettable) settable[v] = true;
            }
        } else {
            EXPECT(it->description != NULL, "non-standard type %s has no description",
                   it->metadataType.name);
        }
    }
    for (size_t i = 0; i < sizeof getters / sizeof getters[0]; i++) {
        EXPECT(gettable[getters[i]], "missing required getter %s", smt_name(getters[i]));
    }
    for (size_t i = 0; i < sizeof setters / sizeof setters[0]; i++) {
        EXPECT(settable[setters[i]], "missing required setter %s", smt_name(setters[i]));
    }
}

static void CheckRequiredSettersIfHasGetters(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    const AIMapper_MetadataTypeDescription* list;
    size_t count;
    ASSERT(list_types(&list, &count), "no list");
    for (size_t i = 0; i < count; i++) {
        const AIMapper_MetadataTypeDescription* it = &list[i];
        if (!is_standard(it->metadataType)) continue;
        int64_t v = it->metadataType.value;
        if ((v == SMT_SMPTE2094_10 || v == SMT_SMPTE2094_40) && it->isGettable) {
            EXPECT(it->isSettable, "%s must be settable if gettable", smt_name(v));
        }
    }
}

static void ListSupportedWorks(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    const AIMapper_MetadataTypeDescription* list;
    size_t count;
    ASSERT(list_types(&list, &count), "no list");
    for (size_t i = 0; i < count; i++) {
        const AIMapper_MetadataTypeDescription* it = &list[i];
        if (!is_standard(it->metadataType)) continue;
        const char* name = smt_name(it->metadataType.value);
        if (!it->isGettable) {
            EXPECT(!it->isSettable, "%s is settable but not gettable", name);
            continue;
        }
        int32_t size = mapper()->getMetadata(h, it->metadataType, NULL, 0);
        EXPECT(size >= 0, "get failed for claimed supported getter of %s: %d", name, size);
        uint8_t* data = NULL;
        if (size > 0) {
            data = malloc((size_t)size);
            ASSERT(data != NULL, "out of memory");
            int32_t again = mapper()->getMetadata(h, it->metadataType, data, (size_t)size);
            EXPECT(again == size, "%s: second get returned %d, first %d", name, again, size);
        }
        if (it->isSettable && size >= 0) {
            AIMapper_Error e = mapper()->setMetadata(h, it->metadataType, data, (size_t)size);
            EXPECT(e == AIMAPPER_ERROR_NONE, "failed to set %s to its own value: %s", name,
                   err_name(e));
        }
        free(data);
    }
}

static void GetMetadataBadValue(void) {
    for (int64_t type = SMT_INVALID + 1; type < SMT_ENUM_SIZE; type++) {
        int32_t ret = mapper()->getStandardMetadata(NULL, type, NULL, 0);
        AIMapper_Error e = ret < 0 ? -ret : AIMAPPER_ERROR_NONE;
        EXPECT(e == AIMAPPER_ERROR_BAD_BUFFER, "wrong error for %s on a NULL buffer: %s (%d)",
               smt_name(type), err_name(e), ret);
    }
}

static void GetUnsupportedMetadata(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    AIMapper_MetadataType fake = {"Fake", 1};
    int32_t r = mapper()->getMetadata(h, fake, NULL, 0);
    EXPECT(r == -AIMAPPER_ERROR_UNSUPPORTED, "getMetadata({\"Fake\", 1}): %d", r);
    r = mapper()->getStandardMetadata(h, SMT_INVALID, NULL, 0);
    EXPECT(r == -AIMAPPER_ERROR_UNSUPPORTED, "getStandardMetadata(INVALID): %d", r);
    r = mapper()->getStandardMetadata(h, SMT_ENUM_SIZE, NULL, 0);
    EXPECT(r == -AIMAPPER_ERROR_UNSUPPORTED, "getStandardMetadata(%d): %d", SMT_ENUM_SIZE, r);
}

/* ---------------------------------------------------------------------------------------------
 * AIMapper v5 cases added to VTS after Android 15.
 * ------------------------------------------------------------------------------------------- */

static void LockUnlockNoCPUUsage(void) {
    Desc d = generic_desc();
    d.usage = USAGE_CPU_READ_RARELY | USAGE_CPU_WRITE_NEVER;
    Allocation* b = allocate(d);
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint8_t* data = NULL;
    EXPECT_ERR(AIMAPPER_ERROR_BAD_VALUE, mapper()->lock(h, 0, full_region(b), -1, (void**)&data),
               "lock with cpuUsage 0");
    int fence = -1;
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->unlock(h, &fence),
               "unlock after the failed lock");
}

/* Lock_RGB_Format's table: component offsets and sizes per format (A 0 = no alpha component). */
typedef struct {
    const char* name;
    int32_t format;
    bool mandatory;
    int bytes_per_sample;
    int num;         /* components: R, G, B, A in that order, the first num of them */
    int offset[4];   /* bits */
    int size[4];     /* bits */
} RgbFormat;

static const RgbFormat RGB_FORMATS[] = {
        {"RGBA_8888", FMT_RGBA_8888, true, 4, 4, {0, 8, 16, 24}, {8, 8, 8, 8}},
        {"RGBX_8888", FMT_RGBX_8888, true, 4, 3, {0, 8, 16, 0}, {8, 8, 8, 0}},
        {"RGB_888", FMT_RGB_888, true, 3, 3, {0, 8, 16, 0}, {8, 8, 8, 0}},
        {"RGB_565", FMT_RGB_565, true, 2, 3, {11, 5, 0, 0}, {5, 6, 5, 0}},
        {"BGRA_8888", FMT_BGRA_8888, true, 4, 4, {16, 8, 0, 24}, {8, 8, 8, 8}},
        {"RGBA_FP16", FMT_RGBA_FP16, false, 8, 4, {0, 16, 32, 48}, {16, 16, 16, 16}},
        {"RGBA_1010102", FMT_RGBA_1010102, false, 4, 4, {0, 10, 20, 30}, {10, 10, 10, 2}},
        {"R_8", FMT_R_8, false, 1, 1, {0, 0, 0, 0}, {8, 0, 0, 0}},
        {"R_16_UINT", FMT_R_16_UINT, false, 2, 1, {0, 0, 0, 0}, {16, 0, 0, 0}},
        {"RG_1616_UINT", FMT_RG_1616_UINT, false, 4, 2, {0, 16, 0, 0}, {16, 16, 0, 0}},
        {"RGBA_10101010", FMT_RGBA_10101010, false, 8, 4, {0, 16, 32, 48}, {10, 10, 10, 10}},
};

static void lock_rgb_format(const RgbFormat* f) {
    const uint64_t usage = USAGE_CPU_WRITE_OFTEN | USAGE_CPU_READ_OFTEN;
    Desc d = generic_desc();
    d.format = f->format;
    int32_t error = -1;
    Allocation* b = allocate_ex(d, &error);
    if (b == NULL) {
        if (f->mandatory) {
            FAIL("%s allocation failed (AllocationError %d); the format is mandatory", f->name,
                 error);
        } else {
            skip_case("%s is not supported by this allocator (optional format)", f->name);
        }
        return;
    }
    ARect region = full_region(b);
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint8_t* data = NULL;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->lock(h, usage, region, -1, (void**)&data),
               "lock for writing");
    size_t bps = (size_t)f->bytes_per_sample;
    fill_rgba(data, d.height, (size_t)b->stride * bps, (size_t)d.width * bps);
    int fence = -1;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(h, &fence), "unlock");
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->lock(h, usage, region, fence, (void**)&data),
               "lock for reading");
    PlaneLayouts pl;
    ASSERT(get_plane_layouts(h, &pl), "no PLANE_LAYOUTS");
    ASSERT(pl.num_planes == 1, "%d planes, expected 1", pl.num_planes);
    const Plane* p = &pl.planes[0];
    ASSERT(p->num_components == f->num, "%d components, expected %d", p->num_components, f->num);
    static const int64_t kinds[4] = {PLC_R, PLC_G, PLC_B, PLC_A};
    bool seen[4] = {false};
    for (int i = 0; i < p->num_components; i++) {
        const Component* c = &p->components[i];
        int k = -1;
        for (int j = 0; j < f->num; j++) {
            if (c->standard && c->type == kinds[j]) k = j;
        }
        ASSERT(k >= 0 && !seen[k], "unexpected component 0x%" PRIx64, c->type);
        seen[k] = true;
        EXPECT(c->size_in_bits == f->size[k], "component 0x%" PRIx64 ": %" PRId64 " bits, expected %d",
               c->type, c->size_in_bits, f->size[k]);
        EXPECT(c->offset_in_bits == f->offset[k],
               "component 0x%" PRIx64 " at bit %" PRId64 ", expected %d", c->type,
               c->offset_in_bits, f->offset[k]);
    }
    EXPECT(p->offset_in_bytes == 0, "offsetInBytes %" PRId64, p->offset_in_bytes);
    EXPECT(p->sample_increment_in_bits == f->bytes_per_sample * 8, "sampleIncrementInBits %" PRId64,
           p->sample_increment_in_bits);
    EXPECT(p->width_in_samples * p->height_in_samples * f->bytes_per_sample <=
                   p->total_size_in_bytes,
           "samples do not fit totalSizeInBytes %" PRId64, p->total_size_in_bytes);
    EXPECT(p->horizontal_subsampling == 1 && p->vertical_subsampling == 1,
           "subsampling %" PRId64 "x%" PRId64, p->horizontal_subsampling,
           p->vertical_subsampling);
    size_t wrong = 0;
    const uint8_t* row = data;
    for (int32_t y = 0; y < d.height; y++) {
        for (size_t i = 0; i < (size_t)d.width * bps; i++) {
            if (row[i] != (uint8_t)y && wrong++ == 0) FAIL("row %d byte %zu reads %u", y, i, row[i]);
        }
        row += (size_t)b->stride * bps;
    }
    fence = -1;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(h, &fence), "second unlock");
    close_fence(fence);
}

/* ---------------------------------------------------------------------------------------------
 * Extra checks: what libui and the header rely on that VTS leaves out.
 * ------------------------------------------------------------------------------------------- */

/* libui's Gralloc5Allocator::allocate: import a handle that borrows the fds, then close them and
 * delete the handle. The import must stand on its own. */
static void Extra_ImportOutlivesBorrowedFds(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    for (int i = 0; i < h->numFds && i < b->raw->numFds; i++) {
        for (int j = 0; j < b->raw->numFds; j++) {
            EXPECT(h->data[i] != b->raw->data[j],
                   "the imported handle holds the caller's fd %d instead of a dup", h->data[i]);
        }
    }
    nh_close(b->raw);
    nh_delete(b->raw);
    b->raw = NULL;
    uint8_t* data = NULL;
    ARect region = full_region(b);
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->lock(h, b->info.usage, region, -1, (void**)&data),
               "lock after the raw fds were closed");
    fill_rgba(data, b->info.height, (size_t)b->stride * 4, (size_t)b->info.width * 4);
    int fence = -1;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(h, &fence), "unlock");
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->lock(h, b->info.usage, region, fence, (void**)&data),
               "second lock");
    verify_rgba8888(h, data, b->info.height, (size_t)b->stride * 4, (size_t)b->info.width * 4);
    fence = -1;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(h, &fence), "second unlock");
    close_fence(fence);
}

/* What the header says of lock beyond VTS: an all-zero region is the whole buffer; an inverted
 * or negative region, or a CPU usage the buffer was not allocated with, is BAD_VALUE; flush and
 * reread of a buffer that is not locked are BAD_BUFFER. */
static void Extra_LockContract(void) {
    Desc d = generic_desc();
    d.usage = USAGE_CPU_READ_OFTEN;
    Allocation* b = allocate(d);
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint8_t* data = NULL;
    ARect whole = {0, 0, 0, 0};
    EXPECT_ERR(AIMAPPER_ERROR_NONE, mapper()->lock(h, USAGE_CPU_READ_OFTEN, whole, -1, (void**)&data),
               "lock of the all-zero region");
    if (data != NULL) {
        int fence = -1;
        EXPECT_ERR(AIMAPPER_ERROR_NONE, mapper()->unlock(h, &fence), "unlock");
        close_fence(fence);
    }
    const ARect bad[] = {{10, 0, 5, 64}, {0, 10, 64, 5}, {-1, 0, 64, 64}, {0, -1, 64, 64},
                         {0, 0, 65, 64}, {0, 0, 64, 65}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char what[96];
        snprintf(what, sizeof what, "lock of region {%d, %d, %d, %d}", bad[i].left, bad[i].top,
                 bad[i].right, bad[i].bottom);
        EXPECT_ERR(AIMAPPER_ERROR_BAD_VALUE,
                   mapper()->lock(h, USAGE_CPU_READ_OFTEN, bad[i], -1, (void**)&data), what);
    }
    EXPECT_ERR(AIMAPPER_ERROR_BAD_VALUE,
               mapper()->lock(h, USAGE_CPU_WRITE_OFTEN, full_region(b), -1, (void**)&data),
               "lock for writing a buffer allocated for CPU reads only");
    EXPECT_ERR(AIMAPPER_ERROR_BAD_VALUE,
               mapper()->lock(h, USAGE_GPU_TEXTURE, full_region(b), -1, (void**)&data),
               "lock with no CPU usage");
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->flushLockedBuffer(h),
               "flushLockedBuffer of an unlocked buffer");
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->rereadLockedBuffer(h),
               "rereadLockedBuffer of an unlocked buffer");
    int fence = -1;
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->unlock(h, &fence),
               "unlock after only failed locks");
}

/* Many threads import, lock, read metadata, unlock and free the same buffers at once (SurfaceFlinger
 * and app threads do); every call must succeed and see the right buffer. */
typedef struct {
    const Allocation* allocs[2];
    uint64_t ids[2];
    int errors;
    char first_error[256];
} ThreadWork;

static void* hammer(void* arg) {
    ThreadWork* w = arg;
    for (int i = 0; i < 200; i++) {
        int which = i % 2;
        const Allocation* a = w->allocs[which];
        buffer_handle_t h = NULL;
        const char* failed = NULL;
        AIMapper_Error e = mapper()->importBuffer(a->raw, &h);
        if (e != AIMAPPER_ERROR_NONE) {
            failed = "importBuffer";
        } else {
            uint8_t* data = NULL;
            ARect r = {0, 0, a->info.width, a->info.height};
            uint8_t blob[77];
            int32_t n = mapper()->getStandardMetadata(h, SMT_BUFFER_ID, blob, sizeof blob);
            uint64_t id = 0;
            if (n == 77) memcpy(&id, blob + 69, 8);
            if (n != 77 || id != w->ids[which]) failed = "BUFFER_ID";
            if (mapper()->lock(h, USAGE_CPU_READ_OFTEN, r, -1, (void**)&data) != AIMAPPER_ERROR_NONE) {
                failed = "lock";
            } else {
                volatile uint8_t sink = data[0];
                (void)sink;
                int fence = -1;
                if (mapper()->unlock(h, &fence) != AIMAPPER_ERROR_NONE) failed = "unlock";
                close_fence(fence);
            }
            if (mapper()->freeBuffer(h) != AIMAPPER_ERROR_NONE) failed = "freeBuffer";
        }
        if (failed != NULL) {
            if (__atomic_fetch_add(&w->errors, 1, __ATOMIC_RELAXED) == 0) {
                snprintf(w->first_error, sizeof w->first_error, "%s failed on iteration %d",
                         failed, i);
            }
        }
    }
    return NULL;
}

static void Extra_ConcurrentImportLockFree(void) {
    ThreadWork w = {0};
    for (int i = 0; i < 2; i++) {
        Allocation* a = allocate_generic();
        ASSERT(a != NULL, "allocation failed");
        buffer_handle_t h = import_buffer(a);
        ASSERT(h != NULL, "import failed");
        ASSERT(get_u64(h, SMT_BUFFER_ID, &w.ids[i]), "no BUFFER_ID");
        w.allocs[i] = a;
    }
    pthread_t threads[8];
    int started = 0;
    for (; started < 8; started++) {
        if (pthread_create(&threads[started], NULL, hammer, &w) != 0) break;
    }
    for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
    EXPECT(started == 8, "started %d of 8 threads", started);
    EXPECT(w.errors == 0, "%d of %d iterations failed, first: %s", w.errors, started * 200,
           w.first_error);
}

/* libui calls getTransportSize after every import; the transportable part is the raw handle. */
static void Extra_GetTransportSize(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    uint32_t fds = 0, ints = 0;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->getTransportSize(h, &fds, &ints), "getTransportSize");
    EXPECT(fds == (uint32_t)b->raw->numFds && ints == (uint32_t)b->raw->numInts,
           "transport size %u fds %u ints, the raw handle has %d and %d", fds, ints,
           b->raw->numFds, b->raw->numInts);
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->getTransportSize(b->raw, &fds, &ints),
               "getTransportSize of an un-imported handle");
}

/* Metadata is global: what one import sets, another import of the same buffer reads. */
static void Extra_MetadataSharedBetweenImports(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h1 = import_buffer(b);
    buffer_handle_t h2 = import_buffer(b);
    ASSERT(h1 != NULL && h2 != NULL, "import failed");
    EXPECT_ERR(AIMAPPER_ERROR_NONE, set_i32(h1, SMT_DATASPACE, DATASPACE_DISPLAY_P3),
               "set DATASPACE through the first import");
    int32_t v;
    ASSERT(get_i32(h2, SMT_DATASPACE, &v), "no DATASPACE");
    EXPECT(v == DATASPACE_DISPLAY_P3, "the second import reads DATASPACE 0x%x", v);
}

/* Read-only types refuse a set with BAD_VALUE (the header's list). */
static void Extra_ReadOnlyTypesRefuseSet(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h = import_buffer(b);
    ASSERT(h != NULL, "import failed");
    static const int64_t ro[] = {SMT_BUFFER_ID,   SMT_NAME, SMT_WIDTH, SMT_HEIGHT,
                                 SMT_LAYER_COUNT, SMT_PIXEL_FORMAT_REQUESTED, SMT_USAGE};
    for (size_t i = 0; i < sizeof ro / sizeof ro[0]; i++) {
        Blob blob;
        if (!get_required(h, ro[i], &blob)) continue;
        AIMapper_Error e = mapper()->setStandardMetadata(h, ro[i], blob.data, blob.size);
        EXPECT(e == AIMAPPER_ERROR_BAD_VALUE, "set %s: %s, expected BAD_VALUE", smt_name(ro[i]),
               err_name(e));
        blob_free(&blob);
    }
}

/* getReservedRegion: reservedSize bytes, word-aligned, shared between imports. */
static void Extra_ReservedRegion(void) {
    Desc d = generic_desc();
    d.reserved_size = 1000;
    Allocation* b = allocate(d);
    ASSERT(b != NULL, "allocation with reservedSize 1000 failed");
    buffer_handle_t h1 = import_buffer(b);
    buffer_handle_t h2 = import_buffer(b);
    ASSERT(h1 != NULL && h2 != NULL, "import failed");
    void* r1 = NULL;
    void* r2 = NULL;
    uint64_t s1 = 0, s2 = 0;
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->getReservedRegion(h1, &r1, &s1), "getReservedRegion");
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->getReservedRegion(h2, &r2, &s2), "getReservedRegion");
    ASSERT(r1 != NULL && r2 != NULL, "NULL reserved region");
    EXPECT(s1 == 1000 && s2 == 1000, "reserved sizes %" PRIu64 " and %" PRIu64, s1, s2);
    EXPECT((uintptr_t)r1 % sizeof(void*) == 0, "reserved region %p is not word-aligned", r1);
    uint8_t* p1 = r1;
    const uint8_t* p2 = r2;
    for (size_t i = 0; i < 1000; i++) EXPECT(p1[i] == 0, "reserved byte %zu is not zero", i);
    for (size_t i = 0; i < 1000; i++) p1[i] = (uint8_t)(i * 7 + 1);
    size_t wrong = 0;
    for (size_t i = 0; i < 1000; i++) wrong += p2[i] != (uint8_t)(i * 7 + 1);
    EXPECT(wrong == 0, "%zu reserved bytes written through one import differ in the other", wrong);
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->getReservedRegion(NULL, &r1, &s1),
               "getReservedRegion(NULL)");
}

typedef struct {
    int begins;
    int values;
    int bad;
    char first_bad[256];
    bool saw_buffer_id;
} DumpState;

static void dump_begin(void* context) { ((DumpState*)context)->begins++; }

/* libui decodes every standard blob it is handed in a dump; one that does not decode aborts. */
static void dump_value(void* context, AIMapper_MetadataType type, const void* value, size_t size) {
    DumpState* s = context;
    s->values++;
    if (!is_standard(type)) return;
    Reader r = reader(value, size);
    rd_header(&r, type.value);
    if (!r.ok && s->bad++ == 0) {
        snprintf(s->first_bad, sizeof s->first_bad, "%s: %s", smt_name(type.value), r.error);
    }
    if (type.value == SMT_BUFFER_ID) s->saw_buffer_id = true;
}

static void Extra_DumpBuffers(void) {
    Allocation* b = allocate_generic();
    ASSERT(b != NULL, "allocation failed");
    buffer_handle_t h1 = import_buffer(b);
    buffer_handle_t h2 = import_buffer(b);
    ASSERT(h1 != NULL && h2 != NULL, "import failed");
    DumpState one = {0};
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->dumpBuffer(h1, dump_value, &one), "dumpBuffer");
    EXPECT(one.values > 0 && one.saw_buffer_id, "dumpBuffer gave %d values, BUFFER_ID %s",
           one.values, one.saw_buffer_id ? "among them" : "missing");
    EXPECT(one.bad == 0, "%d dumped blobs do not decode, first %s", one.bad, one.first_bad);
    EXPECT_ERR(AIMAPPER_ERROR_BAD_BUFFER, mapper()->dumpBuffer(b->raw, dump_value, &one),
               "dumpBuffer of an un-imported handle");
    DumpState all = {0};
    ASSERT_ERR(AIMAPPER_ERROR_NONE, mapper()->dumpAllBuffers(dump_begin, dump_value, &all),
               "dumpAllBuffers");
    EXPECT(all.begins == g_num_imports, "dumpAllBuffers began %d buffers, %d are imported",
           all.begins, g_num_imports);
    EXPECT(all.bad == 0, "%d dumped blobs do not decode, first %s", all.bad, all.first_bad);
}

/* ---------------------------------------------------------------------------------------------
 * Running.
 * ------------------------------------------------------------------------------------------- */

typedef struct {
    const char* name;
    void (*run)(void);
    const char* not_ported; /* why, for a case that is listed but not run */
} Case;

static const char V6[] =
        "AIMapper v6 (Android 16) case; this library is v5 and VTS skips it for version < 6";

static const Case CASES[] = {
        /* VtsHalGraphicsMapperStableC_TargetTest, Android 14/15. */
        {"VersionChecks", VersionChecks, NULL},
        {"AllV5CallbacksDefined", AllV5CallbacksDefined, NULL},
        {"DualLoadIsIdentical", DualLoadIsIdentical, NULL},
        {"CanAllocate", CanAllocate, NULL},
        {"ImportFreeBuffer", ImportFreeBuffer, NULL},
        {"ImportFreeBufferSingleton", ImportFreeBufferSingleton, NULL},
        {"ImportBufferNegative", ImportBufferNegative, NULL},
        {"FreeBufferNegative", FreeBufferNegative, NULL},
        {"LockUnlockBasic", LockUnlockBasic, NULL},
        {"Lock_YCRCB_420_SP", Lock_YCRCB_420_SP, NULL},
        {"YV12SubsampleMetadata", YV12SubsampleMetadata, NULL},
        {"Lock_YV12", Lock_YV12, NULL},
        {"Lock_YCBCR_420_888", Lock_YCBCR_420_888, NULL},
        {"Lock_RAW10", Lock_RAW10, NULL},
        {"Lock_RAW12", Lock_RAW12, NULL},
        {"Lock_YCBCR_P010", Lock_YCBCR_P010, NULL},
        {"LockBadAccessRegion", LockBadAccessRegion, NULL},
        {"UnlockNegative", UnlockNegative, NULL},
        {"UnlockNotImported", UnlockNotImported, NULL},
        {"UnlockNotLocked", UnlockNotLocked, NULL},
        {"LockUnlockNested", LockUnlockNested, NULL},
        {"FlushRereadBasic", FlushRereadBasic, NULL},
        {"FlushLockedBufferBadBuffer", FlushLockedBufferBadBuffer, NULL},
        {"RereadLockedBufferBadBuffer", RereadLockedBufferBadBuffer, NULL},
        {"GetBufferId", GetBufferId, NULL},
        {"GetName", GetName, NULL},
        {"GetWidthHeight", GetWidthHeight, NULL},
        {"GetLayerCount", GetLayerCount, NULL},
        {"GetPixelFormatRequested", GetPixelFormatRequested, NULL},
        {"GetPixelFormatFourCC", GetPixelFormatFourCC, NULL},
        {"GetPixelFormatModifier", GetPixelFormatModifier, NULL},
        {"GetUsage", GetUsage, NULL},
        {"GetUsage64", GetUsage64, NULL},
        {"GetAllocationSize", GetAllocationSize, NULL},
        {"GetProtectedContent", GetProtectedContent, NULL},
        {"GetCompression", GetCompression, NULL},
        {"GetInterlaced", GetInterlaced, NULL},
        {"GetChromaSiting", GetChromaSiting, NULL},
        {"GetPlaneLayouts", GetPlaneLayouts, NULL},
        {"GetCrop", GetCrop, NULL},
        {"GetSetDataspace", GetSetDataspace, NULL},
        {"GetSetBlendMode", GetSetBlendMode, NULL},
        {"GetSetSmpte2086", GetSetSmpte2086, NULL},
        {"GetCta861_3", GetCta861_3, NULL},
        {"GetSmpte2094_10", GetSmpte2094_10, NULL},
        {"GetSmpte2094_40", GetSmpte2094_40, NULL},
        {"GetStride", GetStride, NULL},
        {"SupportsRequiredGettersSetters", SupportsRequiredGettersSetters, NULL},
        {"CheckRequiredSettersIfHasGetters", CheckRequiredSettersIfHasGetters, NULL},
        {"ListSupportedWorks", ListSupportedWorks, NULL},
        {"GetMetadataBadValue", GetMetadataBadValue, NULL},
        {"GetUnsupportedMetadata", GetUnsupportedMetadata, NULL},
        /* Added after Android 15. */
        {"LockUnlockNoCPUUsage", LockUnlockNoCPUUsage, NULL},
        {"AllV6CallbacksDefined", NULL, V6},
        {"DualLoadV6IsIdentical", NULL, V6},
        {"GetBaseView", NULL, V6},
        {"ImportViewBuffer", NULL, V6},
        {"GetMultiViewInfo", NULL, V6},
        {"Lock_YCBCR_P210", NULL,
         "YCBCR_P210 is not in the Android 14/15 PixelFormat this allocator implements"},
        {"GetSetSmpte2094_50", NULL,
         "SMPTE2094_50 (type 24) is Android 16; an Android 14/15 mapper must call 24 unknown "
         "(GetUnsupportedMetadata checks that)"},
        /* Extra checks. */
        {"Extra_ImportOutlivesBorrowedFds", Extra_ImportOutlivesBorrowedFds, NULL},
        {"Extra_LockContract", Extra_LockContract, NULL},
        {"Extra_ConcurrentImportLockFree", Extra_ConcurrentImportLockFree, NULL},
        {"Extra_GetTransportSize", Extra_GetTransportSize, NULL},
        {"Extra_MetadataSharedBetweenImports", Extra_MetadataSharedBetweenImports, NULL},
        {"Extra_ReadOnlyTypesRefuseSet", Extra_ReadOnlyTypesRefuseSet, NULL},
        {"Extra_ReservedRegion", Extra_ReservedRegion, NULL},
        {"Extra_DumpBuffers", Extra_DumpBuffers, NULL},
};

static int g_passed;
static int g_failed;

static void report(const char* name) {
    if (g_case_failures > 0) {
        g_failed++;
        printf("FAIL %s: %s%s\n", name, g_why,
               g_case_failures > 8 ? "; (more failures not shown)" : "");
    } else if (g_skip[0] != '\0') {
        printf("SKIP %s: %s\n", name, g_skip);
    } else {
        g_passed++;
        printf("PASS %s\n", name);
    }
    fflush(stdout);
}

static void begin_case(void) {
    g_why[0] = '\0';
    g_why_len = 0;
    g_case_failures = 0;
    g_skip[0] = '\0';
}

static void run_case(const char* name, void (*run)(void)) {
    begin_case();
    run();
    release_case_resources();
    report(name);
}

static int count_open_fds(void) {
    DIR* dir = opendir("/proc/self/fd");
    if (dir == NULL) return -1;
    int n = 0;
    struct dirent* e;
    while ((e = readdir(dir)) != NULL) n += e->d_name[0] != '.';
    closedir(dir);
    return n - 1; /* the directory's own fd */
}

static bool initialize(const char* path) {
    /* libui: android_load_sphal_library / AServiceManager_openDeclaredPassthroughHal, both
     * ending in dlopen with these flags. */
    g_library = dlopen(path, RTLD_LOCAL | RTLD_NOW);
    ASSERT_B(g_library != NULL, "dlopen(%s): %s", path, dlerror());
    g_loader = (AIMapper_loadIMapperFn)dlsym(g_library, "AIMapper_loadIMapper");
    ASSERT_B(g_loader != NULL, "AIMapper_loadIMapper missing from %s", path);
    AIMapper_Error e = g_loader(&g_mapper);
    ASSERT_B(e == AIMAPPER_ERROR_NONE, "AIMapper_loadIMapper: %s", err_name(e));
    ASSERT_B(g_mapper != NULL, "AIMapper_loadIMapper returned NONE and NULL");
    ASSERT_B(g_mapper->version >= AIMAPPER_VERSION_5, "AIMapper::version %u", g_mapper->version);
    g_hal_version = dlsym(g_library, "ANDROID_HAL_MAPPER_VERSION");
    g_stablec_version = dlsym(g_library, "ANDROID_HAL_STABLEC_VERSION");
    return true;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s LIBRARY SOCKET_FD\n", argv[0]);
        return 2;
    }
    g_sock = atoi(argv[2]);
    /* A hung mapper call must not hang the test run. */
    alarm(300);

    begin_case();
    if (!initialize(argv[1])) {
        printf("FAIL Initialize: %s\n0 passed, 1 failed\n", g_why);
        return 1;
    }
    int fds_before = count_open_fds();

    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const Case* c = &CASES[i];
        if (c->run == NULL) {
            printf("SKIP %s: not ported: %s\n", c->name, c->not_ported);
            continue;
        }
        run_case(c->name, c->run);
        if (strcmp(c->name, "LockUnlockNoCPUUsage") == 0) {
            for (size_t f = 0; f < sizeof RGB_FORMATS / sizeof RGB_FORMATS[0]; f++) {
                char name[64];
                snprintf(name, sizeof name, "Lock_RGB_Format/%s", RGB_FORMATS[f].name);
                begin_case();
                lock_rgb_format(&RGB_FORMATS[f]);
                release_case_resources();
                report(name);
            }
        }
    }

    /* After every import was freed and every raw handle closed, the mapper holds no fds. */
    begin_case();
    int fds_after = count_open_fds();
    EXPECT(fds_before >= 0 && fds_after == fds_before,
           "%d fds open before the cases, %d after", fds_before, fds_after);
    report("Extra_NoFdLeaked");

    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
