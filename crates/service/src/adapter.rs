//! `AllocatorService`: the IAllocator binder methods, each a thin call into [`Gralloc`].
//!
//! This is the only code that knows the AIDL types. It converts `BufferDescriptorInfo` to the
//! core's [`DescriptorInfo`], an allocation to `AllocationResult`, and errors to a `Status`
//! through [`into_status`]; it holds no policy.

use crate::gralloc::{Allocated, Caller, Gralloc};
use crate::status::into_status;
use android_hardware_common::aidl::android::hardware::common::NativeHandle::NativeHandle;
use android_hardware_graphics_allocator::aidl::android::hardware::graphics::allocator::{
    AllocationResult::AllocationResult, BufferDescriptorInfo::BufferDescriptorInfo,
    IAllocator::IAllocator,
};
use binder::{ParcelFileDescriptor, ThreadState};
use central_gralloc::descriptor::DescriptorInfo;
use std::sync::Arc;

/// The answer of `getIMapperLibrarySuffix`: the mapper is `mapper.central.so`.
pub const MAPPER_SUFFIX: &str = "central";

/// The IAllocator binder object.
pub struct AllocatorService {
    gralloc: Arc<Gralloc>,
}

impl AllocatorService {
    /// Serves `gralloc`.
    pub fn new(gralloc: Arc<Gralloc>) -> AllocatorService {
        AllocatorService { gralloc }
    }

    /// The policy object behind this binder (for the mains' dump and debug paths).
    pub fn gralloc(&self) -> &Arc<Gralloc> {
        &self.gralloc
    }
}

/// The caller of the transaction being handled.
fn caller() -> Caller {
    Caller {
        pid: ThreadState::get_calling_pid(),
        uid: ThreadState::get_calling_uid(),
    }
}

/// The wire fields of `descriptor`, as the core validates them.
pub fn descriptor_info(descriptor: &BufferDescriptorInfo) -> DescriptorInfo {
    DescriptorInfo {
        name: descriptor.name.to_vec(),
        width: descriptor.width,
        height: descriptor.height,
        layer_count: descriptor.layerCount,
        format: descriptor.format.0,
        usage: descriptor.usage.0,
        reserved_size: descriptor.reservedSize,
        additional_options: descriptor
            .additionalOptions
            .iter()
            .map(|option| (option.name.clone(), option.value))
            .collect(),
    }
}

/// The AIDL descriptor for wire fields (clients: the CLI, the demo, tests). The name is cut to
/// 127 bytes so `name[127]` stays 0.
pub fn buffer_descriptor(info: &DescriptorInfo) -> BufferDescriptorInfo {
    // Filled in from the default so the graphics.common field types go unnamed (crate::aidl).
    let mut d = BufferDescriptorInfo::default();
    for (dst, src) in d.name.iter_mut().zip(info.name.iter().take(127)) {
        *dst = *src;
    }
    d.width = info.width;
    d.height = info.height;
    d.layerCount = info.layer_count;
    d.format.0 = info.format;
    d.usage.0 = info.usage;
    d.reservedSize = info.reserved_size;
    for (name, value) in &info.additional_options {
        d.additionalOptions.push(Default::default());
        if let Some(option) = d.additionalOptions.last_mut() {
            option.name = name.clone();
            option.value = *value;
        }
    }
    d
}

/// The wire form of an allocation: each buffer's fds and ints become a `NativeHandle`.
fn allocation_result(allocated: Allocated) -> AllocationResult {
    AllocationResult {
        stride: allocated.stride,
        buffers: allocated
            .buffers
            .into_iter()
            .map(|handle| NativeHandle {
                fds: handle
                    .fds
                    .into_iter()
                    .map(ParcelFileDescriptor::new)
                    .collect(),
                ints: handle.ints,
            })
            .collect(),
    }
}

impl IAllocator for AllocatorService {
    fn allocate(&self, _descriptor: &[u8], _count: i32) -> binder::Result<AllocationResult> {
        Err(into_status(self.gralloc.allocate_v1(caller())))
    }

    fn allocate2(
        &self,
        descriptor: &BufferDescriptorInfo,
        count: i32,
    ) -> binder::Result<AllocationResult> {
        self.gralloc
            .allocate(&descriptor_info(descriptor), count, caller())
            .map(allocation_result)
            .map_err(into_status)
    }

    fn isSupported(&self, descriptor: &BufferDescriptorInfo) -> binder::Result<bool> {
        Ok(self.gralloc.is_supported(&descriptor_info(descriptor)))
    }

    fn getIMapperLibrarySuffix(&self) -> binder::Result<String> {
        Ok(MAPPER_SUFFIX.to_string())
    }
}

// What `dumpsys` calls. The argument type differs between the two binder crates, so there is
// one line per build; both print `Gralloc::dump`.
impl binder::Interface for AllocatorService {
    #[cfg(host_binder)]
    fn dump(
        &self,
        writer: &mut dyn std::io::Write,
        args: &[String],
    ) -> binder::rsbinder::Result<()> {
        self.gralloc.dump(writer, args).map_err(|e| {
            log::error!("dump: {e}");
            binder::StatusCode::from(e)
        })
    }

    #[cfg(not(host_binder))]
    fn dump(
        &self,
        writer: &mut dyn std::io::Write,
        args: &[&std::ffi::CStr],
    ) -> Result<(), binder::StatusCode> {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        self.gralloc.dump(writer, &args).map_err(|e| {
            log::error!("dump: {e}");
            binder::StatusCode::UNKNOWN_ERROR
        })
    }
}
