//! Property tests over arbitrary descriptors and profiles.

use super::super::*;
use crate::descriptor::DescriptorInfo;
use crate::format::{FormatSet, FORMATS};
use crate::profile::HeapSpec;
use proptest::prelude::*;

fn arb_constraints() -> impl Strategy<Value = Constraints> {
    (
        (
            1u64..=256,
            1u64..=32,
            1u64..=8192,
            prop::sample::select(vec![1u64, 4096, 12288]),
        ),
        (
            prop::sample::select(vec![256u32, 4096, u32::MAX]),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        (
            prop::sample::select(vec![32u8, 48, 64]),
            any::<u64>(),
            any::<u64>(),
            prop::bool::weighted(0.8),
        ),
    )
        .prop_map(
            |(
                (sa, ha, oa, za),
                (maxw, contiguous, coherent, protected),
                (bits, reads, writes, imports_foreign),
            )| {
                Constraints {
                    stride_align: sa,
                    height_align: ha,
                    offset_align: oa,
                    size_align: za,
                    max_width: maxw,
                    max_height: maxw,
                    address_bits: bits,
                    contiguous,
                    coherent,
                    protected,
                    imports_foreign,
                    // Mostly permissive so that many cases reach the layout code.
                    reads: FormatSet(FormatSet::ALL.0 & (reads | 0xffff_ffff_0000_ffff)),
                    writes: FormatSet(FormatSet::ALL.0 & (writes | 0xffff_ffff_00ff_ffff)),
                    ..Constraints::NONE
                }
            },
        )
}

fn arb_profile() -> impl Strategy<Value = Profile> {
    (
        prop::collection::vec(arb_constraints(), 1..6),
        any::<bool>(),
        prop::sample::select(vec![32u8, 64]),
        prop::option::of((
            prop::sample::select(vec![1u64, 3, 4, 256]),
            prop::sample::select(vec![1u64 << 20, 1 << 28, u64::MAX]),
            prop::sample::select(vec![32u8, 64]),
        )),
    )
        .prop_map(|(cs, uncached, low, device_heap)| {
            let roles = [
                Role::Cpu,
                Role::Gpu,
                Role::Display,
                Role::Camera,
                Role::VideoDecoder,
                Role::VideoEncoder,
            ];
            let devices: Vec<Device> = cs
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    let extra: &[Role] = if i == 0 { &roles[5..] } else { &[] };
                    let mut r = vec![roles[i]];
                    r.extend_from_slice(extra);
                    Device::new(&format!("d{i}"), &r, c)
                })
                .collect();
            let mut heaps = vec![
                HeapSpec::new(HeapRole::System, "system"),
                HeapSpec {
                    address_bits: low,
                    ..HeapSpec::new(HeapRole::Contiguous, "cma")
                },
                HeapSpec {
                    address_bits: 32,
                    contiguous: true,
                    ..HeapSpec::new(HeapRole::Protected, "sec")
                },
            ];
            if uncached {
                heaps.push(HeapSpec::new(HeapRole::SystemUncached, "u"));
            }
            if let Some((stride_align, max_size, address_bits)) = device_heap {
                heaps.push(HeapSpec {
                    stride_align,
                    max_size,
                    address_bits,
                    ..HeapSpec::new(HeapRole::Device, "drm")
                });
            }
            Profile::new("random", devices, heaps).unwrap()
        })
}

fn arb_info() -> impl Strategy<Value = DescriptorInfo> {
    let format = prop_oneof![
        prop::sample::select(FORMATS.iter().map(|f| f.format.0).collect::<Vec<_>>()),
        any::<i32>(),
    ];
    let usage = prop_oneof![
        4 => (0u64..(1 << 28)).prop_map(|u| u as i64),
        1 => any::<i64>(),
    ];
    (
        (
            prop_oneof![1i32..4000, any::<i32>()],
            prop_oneof![1i32..3000, any::<i32>()],
            prop_oneof![1i32..4, any::<i32>()],
        ),
        (format, usage, prop_oneof![0i64..10_000, any::<i64>()]),
        prop::collection::vec(any::<u8>(), 0..200),
    )
        .prop_map(
            |((width, height, layer_count), (format, usage, reserved_size), name)| DescriptorInfo {
                name,
                width,
                height,
                layer_count,
                format,
                usage,
                reserved_size,
                additional_options: vec![],
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_is_deterministic_and_every_device_fits(info in arb_info(), profile in arb_profile()) {
        let Ok(d) = Descriptor::from_info(&info) else { return Ok(()); };
        let first = solve(&d, &profile);
        prop_assert_eq!(&first, &solve(&d, &profile));
        prop_assert_eq!(first.is_ok(), is_supported(&d, &profile));
        if let Ok(p) = first {
            let l = &p.layout;
            prop_assert!(l.size % layout::PAGE_SIZE == 0);
            prop_assert!(l.layer_stride.checked_mul(u64::from(l.layer_count)).is_some_and(|s| s <= l.size));
            for plane in l.planes() {
                prop_assert!(plane.offset + plane.size <= l.layer_stride);
                prop_assert!(plane.stride * plane.height == plane.size);
            }
            for i in p.devices().iter() {
                prop_assert!(check_device(&profile.devices()[i], p.access(i), &p, &d).is_ok());
            }
        }
    }

    #[test]
    fn adding_a_device_never_loosens(info in arb_info(), profile in arb_profile(), extra in 0usize..6, write in any::<bool>()) {
        let Ok(d) = Descriptor::from_info(&info) else { return Ok(()); };
        let Ok((readers, writers)) = devices_for_usage(&d, &profile) else { return Ok(()); };
        let Ok(small) = solve_for(&d, &profile, readers, writers) else { return Ok(()); };
        let extra = extra % profile.devices().len();
        let (r2, w2) = if write { (readers, writers.with(extra)) } else { (readers.with(extra), writers) };
        if let Ok(big) = solve_for(&d, &profile, r2, w2) {
            // Every device of the smaller set still fits the bigger placement...
            for i in small.devices().iter() {
                prop_assert!(check_device(&profile.devices()[i], small.access(i), &big, &d).is_ok());
            }
            // ...and with the same concrete format nothing shrank.
            if big.format == small.format {
                for (a, b) in small.layout.planes().iter().zip(big.layout.planes()) {
                    prop_assert!(b.stride >= a.stride && b.height >= a.height);
                }
                prop_assert!(big.size() >= small.size());
                prop_assert!(big.contiguous || !small.contiguous);
                prop_assert!(big.address_bits <= small.address_bits);
            }
        }
    }
}
