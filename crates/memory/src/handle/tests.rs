use super::*;
use crate::allocator::{Allocator, Buffer};
use crate::heap::{Backend, BackendConfig};
use crate::limits::Limits;
use central_gralloc::descriptor::Descriptor;
use central_gralloc::profile::Profile;
use proptest::prelude::*;
use std::os::fd::BorrowedFd;

fn allocator() -> Allocator {
    Allocator::new(
        Profile::builtin("host").unwrap(),
        &BackendConfig::new(Backend::Memfd),
        Limits::default(),
    )
    .unwrap()
}

fn buffer(a: &Allocator, w: u32, h: u32, format: PixelFormat, usage: Usage) -> Buffer {
    let d = Descriptor::simple("handle-test", w, h, format, usage).unwrap();
    a.allocate(&d, 1).unwrap().buffers.pop().unwrap()
}

fn cases(a: &Allocator) -> Vec<Buffer> {
    let tex = Usage::GPU_TEXTURE | Usage::CPU_WRITE_OFTEN;
    vec![
        buffer(a, 1920, 1080, PixelFormat::RGBA_8888, tex),
        buffer(
            a,
            3840,
            2160,
            PixelFormat::YCRCB_420_SP,
            Usage::VIDEO_DECODER | Usage::GPU_TEXTURE,
        ),
        buffer(a, 33, 17, PixelFormat::YV12, tex),
        buffer(
            a,
            4097,
            1,
            PixelFormat::BLOB,
            Usage::CPU_READ_OFTEN | Usage::CPU_WRITE_OFTEN,
        ),
        buffer(a, 1000, 11, PixelFormat::RAW10, Usage::GPU_TEXTURE),
        buffer(
            a,
            64,
            64,
            PixelFormat::IMPLEMENTATION_DEFINED,
            Usage::VIDEO_DECODER | Usage::GPU_TEXTURE,
        ),
    ]
}

#[test]
fn ints_round_trip() {
    let a = allocator();
    for b in cases(&a) {
        let ints = b.info().to_ints();
        assert_eq!(ints.len(), HANDLE_INTS);
        assert_eq!(BufferInfo::from_ints(&ints).unwrap(), *b.info());
    }
}

#[test]
fn handles_round_trip_with_their_fds() {
    let a = allocator();
    for b in cases(&a) {
        let info = *b.info();
        let handle = BufferHandle::decode(b.encode().unwrap()).unwrap();
        assert_eq!(handle.info, info);
        let again = BufferHandle::decode(handle.encode().unwrap()).unwrap();
        assert_eq!(again.info, info);
        let moved = BufferHandle::decode(b.into_handle()).unwrap();
        assert_eq!(moved.info, info);
    }
}

#[test]
fn truncated_or_extended_ints_are_refused() {
    let a = allocator();
    let b = buffer(&a, 64, 64, PixelFormat::RGBA_8888, Usage::GPU_TEXTURE);
    let ints = b.info().to_ints();
    for n in 0..ints.len() {
        assert!(BufferInfo::from_ints(&ints[..n]).is_err(), "prefix {n}");
    }
    let mut longer = ints.clone();
    longer.push(0);
    assert!(matches!(
        BufferInfo::from_ints(&longer),
        Err(HandleError::IntCount { .. })
    ));
}

#[test]
fn forged_fields_are_refused() {
    let a = allocator();
    let b = buffer(&a, 64, 48, PixelFormat::YCRCB_420_SP, Usage::GPU_TEXTURE);
    let good = b.info().to_ints();
    let forge = |i: usize, v: i32| {
        let mut ints = good.clone();
        ints[i] = v;
        BufferInfo::from_ints(&ints)
    };
    assert!(matches!(forge(0, 0x1234), Err(HandleError::Magic(0x1234))));
    // A version-1 handle (no metadata kind) is another encoding.
    assert!(matches!(
        forge(1, 1),
        Err(HandleError::Version { found: 1, .. })
    ));
    assert!(forge(2, 99).is_err());
    assert!(forge(3, 3).is_err()); // fd count
    let mut zero_id = good.clone();
    zero_id[4] = 0;
    zero_id[5] = 0;
    assert!(BufferInfo::from_ints(&zero_id).is_err());
    assert!(forge(6, 0).is_err()); // width
    assert!(forge(7, -1).is_err()); // height
    assert!(forge(10, 0x7fff_0000).is_err()); // unknown format
    assert!(forge(10, PixelFormat::IMPLEMENTATION_DEFINED.0).is_err()); // not concrete
    assert!(forge(12, 1 << 1).is_err()); // usage bit 33
    assert!(forge(15, 4095).is_err()); // size not page-aligned
    assert!(forge(18, 7).is_err()); // layer stride beyond the allocation
    assert!(forge(19, 4).is_ok()); // the device heap
    assert!(forge(19, 5).is_err()); // heap role
    assert!(forge(20, 2).is_err()); // cache policy
    assert!(forge(21, -1).is_err()); // kind
    assert!(forge(21, 4).is_err());
    assert!(forge(24, 8192).is_err()); // metadata size vs reserved
    assert!(forge(54, 3).is_err()); // metadata kind
    assert!(forge(54, -1).is_err());
    assert!(forge(26, 1).is_err()); // NV21 has two planes
    assert!(forge(26, 4).is_err());
    // A plane pushed outside its layer.
    assert!(forge(27 + 9, i32::MAX).is_err());
    // Plane size not stride × height.
    assert!(forge(27 + 4, 1).is_err());
    // A used third plane slot that should be zero.
    assert!(forge(27 + 18, 1).is_err());
}

#[test]
fn wrong_fds_are_refused_and_closed() {
    let a = allocator();
    let b = buffer(&a, 256, 256, PixelFormat::RGBA_8888, Usage::GPU_TEXTURE);
    let other = buffer(&a, 256, 256, PixelFormat::RGBA_8888, Usage::GPU_TEXTURE);
    let ints = b.info().to_ints();
    let dup = |fd: BorrowedFd<'_>| fd.try_clone_to_owned().unwrap();
    let decode = |fds: Vec<OwnedFd>| {
        BufferHandle::decode(NativeHandle {
            fds,
            ints: ints.clone(),
        })
    };

    // Too few, too many.
    assert!(matches!(
        decode(vec![dup(b.fd())]),
        Err(MemError::Handle(HandleError::FdCount { found: 1, .. }))
    ));
    let three = vec![dup(b.fd()), dup(b.metadata_fd()), dup(b.fd())];
    assert!(matches!(
        decode(three),
        Err(MemError::Handle(HandleError::FdCount { found: 3, .. }))
    ));
    // Swapped: the metadata region is too small to be the buffer.
    assert!(decode(vec![dup(b.metadata_fd()), dup(b.fd())]).is_err());
    // A pipe, /dev/null.
    let (r, w) = nix::unistd::pipe().unwrap();
    assert!(decode(vec![r, dup(b.metadata_fd())]).is_err());
    let null: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
    assert!(decode(vec![dup(b.fd()), null]).is_err());
    drop(w);
    // A metadata region of another kind than the handle says: these are memfds, the forged
    // ints say dma-buf (the device form), and the reverse for a dma-buf is the VM tier's case.
    for kind in [BufferKind::DmaHeap, BufferKind::Udmabuf] {
        let mut forged = ints.clone();
        forged[54] = kind_code(kind);
        let e = BufferHandle::decode(NativeHandle {
            fds: vec![dup(b.fd()), dup(b.metadata_fd())],
            ints: forged,
        })
        .unwrap_err();
        assert!(
            matches!(
                &e,
                MemError::Handle(HandleError::Fd {
                    which: "metadata",
                    ..
                })
            ),
            "{e}"
        );
    }
    // Another buffer's metadata region: the ids differ.
    let e = decode(vec![dup(b.fd()), dup(other.metadata_fd())]).unwrap_err();
    assert!(e.to_string().contains("belongs to buffer"), "{e}");
    // A memfd that is not sealed.
    let loose: OwnedFd = {
        let fd = crate::sys::memfd(c"loose", libc::MFD_CLOEXEC).unwrap();
        crate::sys::truncate(fd.as_fd(), b.info().size).unwrap();
        fd
    };
    assert!(decode(vec![loose, dup(b.metadata_fd())]).is_err());
}

proptest! {
    #[test]
    fn random_ints_never_panic(ints in proptest::collection::vec(any::<i32>(), 0..80)) {
        let _ = BufferInfo::from_ints(&ints);
    }

    #[test]
    fn random_ints_with_our_header_never_panic(mut ints in proptest::collection::vec(any::<i32>(), HANDLE_INTS..=HANDLE_INTS)) {
        ints[0] = HANDLE_MAGIC;
        ints[1] = HANDLE_VERSION;
        ints[2] = HANDLE_INTS as i32;
        ints[3] = 2;
        let _ = BufferInfo::from_ints(&ints);
    }

    #[test]
    fn mutated_valid_ints_never_panic_and_decoded_ones_are_consistent(index in 0..HANDLE_INTS, value in any::<i32>()) {
        let info = BufferInfo {
            id: 0x55aa_0000_0001,
            width: 64,
            height: 48,
            layer_count: 1,
            requested_format: PixelFormat::YCRCB_420_SP,
            format: PixelFormat::YCRCB_420_SP,
            usage: Usage::GPU_TEXTURE,
            stride: 64,
            fourcc: 0,
            size: 8192,
            layer_stride: 4608,
            heap: HeapRole::System,
            cache: CachePolicy::Cached,
            kind: BufferKind::Memfd,
            reserved_size: 0,
            metadata_size: 4096,
            metadata_kind: BufferKind::DmaHeap,
            planes: [
                PlaneLayout { offset: 0, stride: 64, size: 3072, width: 64, height: 48, fourcc: 0 },
                PlaneLayout { offset: 3072, stride: 64, size: 1536, width: 32, height: 24, fourcc: 0 },
                PlaneLayout::default(),
            ],
            plane_count: 2,
        };
        let mut ints = info.to_ints();
        prop_assert_eq!(BufferInfo::from_ints(&ints), Ok(info));
        ints[index] = value;
        if let Ok(decoded) = BufferInfo::from_ints(&ints) {
            for p in decoded.planes() {
                prop_assert!(p.offset + p.size <= decoded.layer_stride);
            }
            prop_assert!(decoded.layer_stride * u64::from(decoded.layer_count) <= decoded.size);
        }
    }
}

/// Ints whose planes fit the allocation but whose width, height or stride say more than the
/// planes hold: a mapper trusting them would let a client read or write rows past the mapping.
#[test]
fn geometry_beyond_the_planes_is_refused() {
    let a = allocator();
    for b in cases(&a) {
        let good = b.info().to_ints();
        let info = *b.info();
        let forge = |i: usize, v: i32| {
            let mut ints = good.clone();
            ints[i] = v;
            BufferInfo::from_ints(&ints)
        };
        let name = info.format;
        // Width beyond plane 0's samples, and so beyond its pitch.
        assert!(
            forge(6, (info.planes[0].stride * 8 + 8) as i32).is_err(),
            "{name} width"
        );
        // Height beyond plane 0's rows.
        assert!(
            forge(7, info.planes[0].height as i32 + 1).is_err(),
            "{name} height"
        );
        // A reported stride beyond plane 0's pitch.
        assert!(forge(13, info.stride as i32 + 64).is_err(), "{name} stride");
        // A plane whose samples do not fit its pitch.
        let wide = (info.planes[0].stride * 8 + 8) as i32;
        assert!(forge(27 + 6, wide).is_err(), "{name} plane width");
    }
}

/// A client reads a buffer by its requested format (GraphicBuffer's format): ints that request one
/// concrete format and lay out another would make it read an RGBA-sized image out of an NV21
/// allocation.
#[test]
fn requested_format_must_be_the_laid_out_one_or_flexible() {
    let a = allocator();
    let b = buffer(&a, 64, 48, PixelFormat::YCRCB_420_SP, Usage::GPU_TEXTURE);
    let mut ints = b.info().to_ints();
    ints[9] = PixelFormat::RGBA_8888.0;
    assert!(BufferInfo::from_ints(&ints).is_err());
    ints[9] = PixelFormat::IMPLEMENTATION_DEFINED.0;
    assert!(BufferInfo::from_ints(&ints).is_ok());
}

#[test]
fn every_role_policy_and_kind_has_one_number() {
    for role in HeapRole::ALL {
        assert_eq!(role_from_code(role_code(role)), Some(role), "{role:?}");
    }
    for cache in [CachePolicy::Cached, CachePolicy::Uncached] {
        assert_eq!(cache_from_code(cache_code(cache)), Some(cache), "{cache:?}");
    }
    for kind in BufferKind::ALL {
        assert_eq!(kind_from_code(kind_code(kind)), Some(kind), "{kind:?}");
    }
    assert_eq!(role_from_code(4), Some(HeapRole::Device));
    assert_eq!(role_from_code(5), None);
    assert_eq!(cache_from_code(-1), None);
    assert_eq!(kind_from_code(3), Some(BufferKind::Drm));
    assert_eq!(kind_from_code(4), None);
}
