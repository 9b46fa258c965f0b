//! `Allocator`: descriptor → placement (the core's solver, over the heaps that really exist) →
//! limits → memory + metadata region + id, for `count` buffers at once, all or nothing.

use crate::drm::DrmHeap;
use crate::error::MemError;
use crate::handle::{encode_dup, BufferInfo, NativeHandle};
use crate::heap::{
    list_heaps, Backend, BackendConfig, BufferKind, DmaHeap, Heap, MemfdHeap, Udmabuf,
};
use crate::id::BufferIds;
use crate::limits::Limits;
use crate::map::{begin_cpu_access, end_cpu_access, CpuAccess, Mapping, SyncOutcome};
use crate::metadata::{self, MetadataInit};
use crate::pool::{Pool, PoolConfig, PoolKey, Pooled, RefillFailure, TrimReason};
use central_gralloc::cache::LockDomains;
use central_gralloc::descriptor::Descriptor;
use central_gralloc::profile::{HeapRole, HeapSpec, Profile};
use central_gralloc::solver::{self, Placement, SolveError};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Instant;

/// One allocated buffer: its memory, its metadata region and everything its handle says.
#[derive(Debug)]
pub struct Buffer {
    memory: OwnedFd,
    metadata: OwnedFd,
    info: BufferInfo,
    /// The metadata region's header page, mapped read-write to write the header; kept for a
    /// caller that reads the region later (the service's dump) instead of mapping it again.
    header: Option<Mapping>,
}

impl Buffer {
    /// Unique id.
    pub fn id(&self) -> u64 {
        self.info.id
    }
    /// The memory fd (dma-buf or memfd, see [`Buffer::kind`]).
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.memory.as_fd()
    }
    /// The metadata region fd.
    pub fn metadata_fd(&self) -> BorrowedFd<'_> {
        self.metadata.as_fd()
    }
    /// The metadata region's header page mapping, if the buffer still has it (taking it leaves
    /// none).
    pub fn take_header(&mut self) -> Option<Mapping> {
        self.header.take()
    }
    /// What kind of fd the memory is.
    pub fn kind(&self) -> BufferKind {
        self.info.kind
    }
    /// Everything the handle says.
    pub fn info(&self) -> &BufferInfo {
        &self.info
    }

    /// A handle with duplicated fds; the buffer keeps its own.
    pub fn encode(&self) -> Result<NativeHandle, MemError> {
        encode_dup(&self.memory, &self.metadata, &self.info)
    }

    /// The handle, giving it this buffer's fds (what the service sends).
    pub fn into_handle(self) -> NativeHandle {
        NativeHandle {
            ints: self.info.to_ints(),
            fds: vec![self.memory, self.metadata],
        }
    }

    /// Maps the whole buffer.
    pub fn map(&self, access: CpuAccess) -> Result<Mapping, MemError> {
        Mapping::new(self.memory.as_fd(), self.info.size, access)
    }

    /// Maps the whole metadata region (read-write: the mapper updates it).
    pub fn map_metadata(&self) -> Result<Mapping, MemError> {
        Mapping::new(
            self.metadata.as_fd(),
            self.info.metadata_size,
            CpuAccess::ReadWrite,
        )
    }

    /// Starts a CPU access: `DMA_BUF_IOCTL_SYNC` START for a dma-buf; nothing for a memfd.
    pub fn begin_cpu_access(&self, access: CpuAccess) -> Result<SyncOutcome, MemError> {
        if !self.info.kind.is_dma_buf() {
            return Ok(SyncOutcome::NotDmaBuf);
        }
        begin_cpu_access(self.memory.as_fd(), access).map(|()| SyncOutcome::Synced)
    }

    /// Ends a CPU access begun with the same `access`.
    pub fn end_cpu_access(&self, access: CpuAccess) -> Result<SyncOutcome, MemError> {
        if !self.info.kind.is_dma_buf() {
            return Ok(SyncOutcome::NotDmaBuf);
        }
        end_cpu_access(self.memory.as_fd(), access).map(|()| SyncOutcome::Synced)
    }
}

/// One buffer of a descriptor as this allocator will make it, every fixed bound checked: the only
/// input to allocation ([`Allocator::plan`] makes it).
#[derive(Clone, Debug)]
pub struct Plan {
    descriptor: Descriptor,
    placement: Placement,
    domains: LockDomains,
    metadata_size: u64,
    buffer_bytes: u64,
    /// Index of the serving heap in the allocator's list.
    heap: usize,
    /// Index of the heap the metadata region comes from (the system role's).
    metadata_heap: usize,
    stride: i32,
}

impl Plan {
    /// The validated request.
    pub fn descriptor(&self) -> &Descriptor {
        &self.descriptor
    }
    /// Where and how the buffers will live.
    pub fn placement(&self) -> &Placement {
        &self.placement
    }
    /// What one buffer costs: its memory and its metadata region.
    pub fn buffer_bytes(&self) -> u64 {
        self.buffer_bytes
    }
    /// `AllocationResult.stride`, in pixels.
    pub fn stride(&self) -> i32 {
        self.stride
    }
}

/// The result of one `allocate`: the placement every buffer shares and the buffers.
#[derive(Debug)]
pub struct Allocation {
    /// Where and how the buffers live.
    pub placement: Placement,
    /// The buffers.
    pub buffers: Vec<Buffer>,
}

impl Allocation {
    /// `AllocationResult.stride`.
    pub fn stride(&self) -> u32 {
        self.placement.layout.stride
    }
    /// Bytes allocated, buffers and metadata regions together (what a client ledger charges).
    pub fn bytes(&self) -> u64 {
        self.buffers
            .iter()
            .map(|b| b.info.size.saturating_add(b.info.metadata_size))
            .fold(0, u64::saturating_add)
    }
}

/// A heap role this allocator cannot serve, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unavailable {
    /// The role.
    pub role: HeapRole,
    /// Why.
    pub reason: String,
}

/// Turns descriptors into buffers on one platform with one backend.
#[derive(Debug)]
pub struct Allocator {
    profile: Profile,
    /// The profile with only the heaps this allocator has, as the backend really provides them;
    /// `Err` when even the system heap is missing.
    effective: Result<Profile, String>,
    heaps: Vec<(HeapRole, Box<dyn Heap>)>,
    unavailable: Vec<Unavailable>,
    limits: Limits,
    ids: BufferIds,
    /// Buffers made ahead of demand (disabled unless [`Allocator::with_pool`] turns it on).
    pool: Pool,
}

impl Allocator {
    /// An allocator for `profile` using `backend` (policy in [`crate::heap`]). Missing heaps do
    /// not fail construction: they make the placements that need them `Unsupported`, and
    /// [`Allocator::unavailable`] lists them for the service to log at start-up.
    pub fn new(
        profile: Profile,
        backend: &BackendConfig,
        limits: Limits,
    ) -> Result<Allocator, MemError> {
        let mut heaps: Vec<(HeapRole, Box<dyn Heap>)> = Vec::new();
        let mut unavailable = Vec::new();
        let mut missing = |role, reason: String| unavailable.push(Unavailable { role, reason });
        match backend.backend {
            Backend::DmaHeap => {
                let present = list_heaps(&backend.heap_dir)?;
                for spec in profile.heaps() {
                    if spec.role == HeapRole::Device {
                        match DrmHeap::open(&backend.dri_dir, &spec.name) {
                            Ok(heap) => heaps.push((spec.role, Box::new(heap))),
                            Err(MemError::HeapUnavailable { reason, .. }) => {
                                missing(spec.role, reason)
                            }
                            Err(e) => missing(spec.role, e.to_string()),
                        }
                        continue;
                    }
                    if !present.contains(&spec.name) {
                        missing(
                            spec.role,
                            format!(
                                "no heap `{}` in {} (this kernel has: {})",
                                spec.name,
                                backend.heap_dir.display(),
                                if present.is_empty() {
                                    "none".to_string()
                                } else {
                                    present.join(", ")
                                }
                            ),
                        );
                        continue;
                    }
                    match DmaHeap::open(&backend.heap_dir, &spec.name) {
                        Ok(heap) => heaps.push((spec.role, Box::new(heap))),
                        Err(e) => missing(spec.role, e.to_string()),
                    }
                }
            }
            Backend::Udmabuf | Backend::Memfd => {
                let heap: Box<dyn Heap> = match backend.backend {
                    Backend::Udmabuf => Box::new(Udmabuf::open(&backend.udmabuf)?),
                    _ => Box::new(MemfdHeap),
                };
                heaps.push((HeapRole::System, heap));
                for spec in profile
                    .heaps()
                    .iter()
                    .filter(|h| h.role != HeapRole::System)
                {
                    missing(
                        spec.role,
                        format!(
                            "the {} backend stands in for the system heap only",
                            backend.backend
                        ),
                    );
                }
            }
        }
        Ok(Allocator::with_heaps_and_reasons(
            profile,
            heaps,
            unavailable,
            limits,
        ))
    }

    /// An allocator over explicit heaps (tests, fault injection, tools). Roles of the profile
    /// without a heap here are unavailable.
    pub fn with_heaps(
        profile: Profile,
        heaps: Vec<(HeapRole, Box<dyn Heap>)>,
        limits: Limits,
    ) -> Allocator {
        let unavailable = profile
            .heaps()
            .iter()
            .filter(|spec| !heaps.iter().any(|(role, _)| *role == spec.role))
            .map(|spec| Unavailable {
                role: spec.role,
                reason: "no heap given for this role".into(),
            })
            .collect();
        Allocator::with_heaps_and_reasons(profile, heaps, unavailable, limits)
    }

    fn with_heaps_and_reasons(
        profile: Profile,
        heaps: Vec<(HeapRole, Box<dyn Heap>)>,
        unavailable: Vec<Unavailable>,
        limits: Limits,
    ) -> Allocator {
        let specs: Vec<HeapSpec> = profile
            .heaps()
            .iter()
            .filter_map(|spec| {
                let (_, heap) = heaps.iter().find(|(role, _)| *role == spec.role)?;
                Some(match heap.kind() {
                    BufferKind::DmaHeap | BufferKind::Drm => spec.clone(),
                    // Stand-ins give ordinary memory anywhere in RAM, whatever the profile's
                    // system heap promised; the solver must see what they really provide.
                    BufferKind::Udmabuf | BufferKind::Memfd => HeapSpec {
                        address_bits: 64,
                        contiguous: false,
                        ..spec.clone()
                    },
                })
            })
            .collect();
        let effective =
            Profile::new(&profile.name, profile.devices().to_vec(), specs).map_err(|e| e.message);
        Allocator {
            profile,
            effective,
            heaps,
            unavailable,
            limits,
            ids: BufferIds::new(),
            pool: Pool::new(PoolConfig::DISABLED),
        }
    }

    /// This allocator with a pool of pre-made buffers ([`crate::pool`]); the owner runs
    /// [`Allocator::refill_pool`] and [`Allocator::trim_pool`] on a background thread.
    pub fn with_pool(mut self, config: PoolConfig) -> Allocator {
        self.pool = Pool::new(config);
        self
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Makes the buffers the pool's classes lack, from their heaps; returns the refills that
    /// failed (the pool shrank those classes; requests still go to the heap).
    pub fn refill_pool(&self) -> Vec<RefillFailure> {
        self.pool
            .refill(|index| self.heaps.get(index).map(|(_, heap)| heap.as_ref()))
    }

    /// Releases idle pooled buffers, or all of them under memory pressure.
    pub fn trim_pool(&self, pressure: bool) -> Vec<(PoolKey, usize, TrimReason)> {
        self.pool.trim(Instant::now(), pressure)
    }

    /// The declared profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }
    /// The heaps in use, by role.
    pub fn heaps(&self) -> impl Iterator<Item = (HeapRole, &dyn Heap)> {
        self.heaps.iter().map(|(role, heap)| (*role, heap.as_ref()))
    }
    /// The profile's roles this allocator cannot serve, with reasons.
    pub fn unavailable(&self) -> &[Unavailable] {
        &self.unavailable
    }
    /// The limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn unavailable_error(&self, role: HeapRole) -> MemError {
        let reason = self
            .unavailable
            .iter()
            .find(|u| u.role == role)
            .map_or_else(
                || "the profile has no heap for it".to_string(),
                |u| u.reason.clone(),
            );
        MemError::HeapUnavailable { role, reason }
    }

    /// The placement `allocate` would use, or why there is none. Allocates nothing.
    pub fn solve(&self, descriptor: &Descriptor) -> Result<Placement, MemError> {
        let profile = self
            .effective
            .as_ref()
            .map_err(|_| self.unavailable_error(HeapRole::System))?;
        match solver::solve(descriptor, profile) {
            Ok(placement) => Ok(placement),
            Err(SolveError::MissingHeap(role, why)) if self.profile.heap(role).is_some() => {
                // Say both what needs the heap (the device) and why this allocator lacks it.
                Err(match self.unavailable_error(role) {
                    MemError::HeapUnavailable { role, reason } => MemError::HeapUnavailable {
                        role,
                        reason: format!("{why}; {reason}"),
                    },
                    other => other,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Everything [`Allocator::allocate_planned`] needs for one buffer of `descriptor`, with
    /// every bound that cannot change while the allocator runs already checked: the placement,
    /// the metadata region's size, the per-request limit for one buffer, the serving heap's
    /// largest buffer, and a stride `AllocationResult` can carry. `isSupported` is this and
    /// nothing else, so it cannot drift from what allocation checks. Allocates nothing.
    pub fn plan(&self, descriptor: &Descriptor) -> Result<Plan, MemError> {
        let placement = self.solve(descriptor)?;
        let size = placement.size();
        let metadata_size =
            metadata::region_size(placement.reserved_size).ok_or(MemError::TooLarge {
                what: "reserved size",
                bytes: placement.reserved_size,
                limit: central_gralloc::descriptor::MAX_RESERVED_SIZE,
            })?;
        let buffer_bytes = size.saturating_add(metadata_size);
        self.limits.check(1, buffer_bytes)?;
        let (heap, serving) = self
            .heaps
            .iter()
            .enumerate()
            .find(|(_, (role, _))| *role == placement.heap)
            .ok_or_else(|| self.unavailable_error(placement.heap))?;
        if let Some(limit) = serving.1.max_buffer_size() {
            if size > limit {
                return Err(MemError::TooLarge {
                    what: "buffer",
                    bytes: size,
                    limit,
                });
            }
        }
        // Metadata regions come from the system-role heap whatever heap the buffer uses: cached
        // memory every client may map (crate::metadata says why).
        let metadata_heap = self
            .heaps
            .iter()
            .position(|(role, _)| *role == HeapRole::System)
            .ok_or_else(|| self.unavailable_error(HeapRole::System))?;
        let stride = i32::try_from(placement.layout.stride).map_err(|_| MemError::TooLarge {
            what: "stride",
            bytes: u64::from(placement.layout.stride),
            limit: i32::MAX as u64,
        })?;
        Ok(Plan {
            descriptor: descriptor.clone(),
            domains: LockDomains::for_placement(&self.profile, &placement),
            placement,
            metadata_size,
            buffer_bytes,
            heap,
            metadata_heap,
            stride,
        })
    }

    /// `isSupported`: [`Allocator::plan`] succeeds, so only resources can make an allocation fail.
    pub fn is_supported(&self, descriptor: &Descriptor) -> bool {
        self.plan(descriptor).is_ok()
    }

    /// Plans and allocates `count` buffers for `descriptor` (tools and tests; a service that also
    /// answers `isSupported` plans once and calls [`Allocator::allocate_planned`]).
    pub fn allocate(&self, descriptor: &Descriptor, count: u32) -> Result<Allocation, MemError> {
        self.allocate_planned(&self.plan(descriptor)?, count)
    }

    /// Allocates `count` buffers of `plan`, which this allocator made. All or nothing: if buffer
    /// `k` fails, the fds of buffers `0..k` are closed before the error returns.
    pub fn allocate_planned(&self, plan: &Plan, count: u32) -> Result<Allocation, MemError> {
        let result = self.allocate_from_pool_or_heap(plan, count);
        self.pool.kick();
        result
    }

    fn allocate_from_pool_or_heap(&self, plan: &Plan, count: u32) -> Result<Allocation, MemError> {
        let (descriptor, placement) = (&plan.descriptor, &plan.placement);
        self.limits.check(count, plan.buffer_bytes)?;
        let heap = self
            .heaps
            .get(plan.heap)
            .map(|(_, heap)| heap.as_ref())
            .ok_or_else(|| self.unavailable_error(placement.heap))?;
        let metadata_heap = self
            .heaps
            .get(plan.metadata_heap)
            .map(|(_, heap)| heap.as_ref())
            .ok_or_else(|| self.unavailable_error(HeapRole::System))?;
        let (now, n) = (Instant::now(), count as usize);
        // A display reads rows at the first plane's pitch: heaps that scan out shape their memory
        // to it, and their pooled buffers are classed by it.
        let pitch = if heap.shapes_to_pitch() {
            placement.layout.planes().first().map_or(0, |p| p.stride)
        } else {
            0
        };
        let memory_key = PoolKey {
            heap: plan.heap,
            size: placement.size(),
            pitch,
            header: false,
        };
        let metadata_key = PoolKey {
            heap: plan.metadata_heap,
            size: plan.metadata_size,
            pitch: 0,
            header: true,
        };
        let metadata_name = format!("meta:{}", descriptor.name);
        let mut pooled = self.pool.take(memory_key, &descriptor.name, n, now);
        let mut pooled_metadata = self.pool.take(metadata_key, &metadata_name, n, now);
        let mut buffers = Vec::with_capacity(n);
        for _ in 0..count {
            let memory = pooled_or_new(heap, pooled.pop(), memory_key, &descriptor.name)?;
            let region = pooled_or_new(
                metadata_heap,
                pooled_metadata.pop(),
                metadata_key,
                &metadata_name,
            )?;
            let header = match region.header {
                Some(header) => header,
                None => metadata::map_header(region.fd.as_fd())?,
            };
            let id = self.ids.next();
            metadata::write_header(
                &header,
                &MetadataInit {
                    id,
                    name: &descriptor.name,
                    width: descriptor.width,
                    height: descriptor.height,
                    dataspace: descriptor.dataspace.unwrap_or(0),
                    reserved_size: placement.reserved_size,
                    domains: plan.domains,
                },
            )?;
            let info = buffer_info(plan, id, heap.kind(), metadata_heap.kind());
            buffers.push(Buffer {
                memory: memory.fd,
                metadata: region.fd,
                info,
                header: Some(header),
            });
        }
        Ok(Allocation {
            placement: *placement,
            buffers,
        })
    }

    /// One line per heap role: what serves it, or why nothing does; then the limits.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for spec in self.profile.heaps() {
            match self.heaps.iter().find(|(role, _)| *role == spec.role) {
                Some((_, heap)) => lines.push(format!("{}: {}", spec.role, heap.describe())),
                None => {
                    let why = self
                        .unavailable
                        .iter()
                        .find(|u| u.role == spec.role)
                        .map_or("", |u| u.reason.as_str());
                    lines.push(format!("{}: unavailable ({why})", spec.role));
                }
            }
        }
        lines.push(format!(
            "limits: {} bytes and {} buffers per request",
            self.limits.max_batch_bytes, self.limits.max_count
        ));
        let pool = &self.pool;
        lines.push(format!(
            "pool: {} of at most {} bytes held",
            pool.held_bytes(),
            pool.config().cap_bytes
        ));
        for (key, ready, target, stats) in pool.classes() {
            let heap = self
                .heaps
                .get(key.heap)
                .map_or("?".to_string(), |(role, heap)| {
                    format!("{role} {}", heap.describe())
                });
            lines.push(format!(
                "pool class {heap}, {} bytes: {ready} ready of {target}; hits {}, misses {}, refills {}, trims {}, failed refills {}",
                key.size, stats.hits, stats.misses, stats.refills, stats.trims, stats.failures
            ));
        }
        lines
    }
}

/// A pooled buffer, renamed for this request if it was made under another name (it came straight
/// from `heap` and nobody has mapped it), or a new one from `heap`.
fn pooled_or_new(
    heap: &dyn Heap,
    pooled: Option<Pooled>,
    class: PoolKey,
    name: &str,
) -> Result<Pooled, MemError> {
    match pooled {
        Some(made) => {
            if made.name != name {
                heap.rename(made.fd.as_fd(), name)?;
            }
            Ok(made)
        }
        None => Ok(Pooled {
            fd: heap.allocate_with_pitch(class.size, class.pitch, name)?,
            header: None,
            name: name.to_owned(),
        }),
    }
}

/// What the handle of buffer `id` of `plan` says.
fn buffer_info(plan: &Plan, id: u64, kind: BufferKind, metadata_kind: BufferKind) -> BufferInfo {
    let (descriptor, placement) = (&plan.descriptor, &plan.placement);
    let layout = &placement.layout;
    let mut planes = [Default::default(); central_gralloc::layout::MAX_PLANES];
    for (dst, src) in planes.iter_mut().zip(layout.planes()) {
        *dst = *src;
    }
    BufferInfo {
        id,
        width: descriptor.width,
        height: descriptor.height,
        layer_count: descriptor.layer_count,
        requested_format: placement.requested_format,
        format: placement.format,
        usage: descriptor.usage,
        stride: layout.stride,
        fourcc: placement.fourcc,
        size: placement.size(),
        layer_stride: layout.layer_stride,
        heap: placement.heap,
        cache: placement.cache,
        kind,
        reserved_size: placement.reserved_size,
        metadata_size: plan.metadata_size,
        metadata_kind,
        planes,
        plane_count: layout.planes().len() as u8,
    }
}

#[cfg(test)]
mod tests;
