//! IAllocator conformance against the real service over a real binder connection.
//!
//! Cargo: each case spawns the built `allocator-service` (memfd backend) on a temporary Unix
//! socket and talks RPC binder to it. Soong (on a device): each case looks up the registered
//! `IAllocator/default` on kernel binder. Either way the cases are
//! `central_gralloc_conformance::CASES`, the same ones the `conformance` binary runs for the VM
//! tier. The `mapper_*` cases load `mapper.central.so`: under Cargo the mapper's cdylib (a
//! dev-dependency, so Cargo builds it) installed under that name in the target directory; on a
//! device the one in `/vendor/lib64/hw`.

#[cfg(host_binder)]
mod common;

/// The mapper's cdylib, which Cargo built next to this test as a dev-dependency, installed as
/// `target/<profile>/conformance-mapper/mapper.central.so` (the name the platform loads for the
/// suffix `central`); returns that directory.
#[cfg(host_binder)]
fn mapper_dir() -> &'static std::path::Path {
    use std::path::PathBuf;
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        let deps = exe.parent().expect("target/<profile>/deps");
        let profile = deps.parent().expect("target/<profile>");
        let name = "libcentral_gralloc_mapper.so";
        let library = [deps.join(name), profile.join(name)]
            .into_iter()
            .find(|p| p.is_file())
            .unwrap_or_else(|| {
                panic!(
                    "no {name} in {}: the mapper is a dev-dependency",
                    deps.display()
                )
            });
        let dir = profile.join("conformance-mapper");
        std::fs::create_dir_all(&dir).expect("create the mapper directory");
        // Copy, then rename over: a process that has the old file mapped keeps its inode.
        let staging = dir.join(format!(".mapper.central.so.{}", std::process::id()));
        std::fs::copy(&library, &staging).expect("copy the mapper library");
        std::fs::rename(&staging, dir.join("mapper.central.so"))
            .expect("install mapper.central.so");
        dir
    })
}

#[cfg(host_binder)]
fn run(name: &str) {
    central_gralloc_conformance::mapper::set_mapper_dir(mapper_dir());
    let service = common::start("conformance", &[]);
    let connection = service.connect().expect("connect to the service");
    let result = central_gralloc_conformance::run_named(&connection.allocator, name);
    drop(connection);
    if let Err(reason) = result {
        panic!("FAIL {name}: {reason}");
    }
}

#[cfg(not(host_binder))]
fn run(name: &str) {
    use central_gralloc_service::aidl::IAllocator;
    let allocator: binder::Strong<dyn IAllocator> =
        binder::wait_for_interface(central_gralloc_service::SERVICE_NAME)
            .expect("IAllocator/default is registered");
    if let Err(reason) = central_gralloc_conformance::run_named(&allocator, name) {
        panic!("FAIL {name}: {reason}");
    }
}

/// Not a check of its own: the second process of `fds_are_shared_memory`, which re-runs this
/// binary as `conformance_peer --exact --ignored` with the buffer's fd as stdin. Run any other
/// way it has nothing to do.
#[test]
#[ignore = "the peer process of fds_are_shared_memory, started by that case"]
fn conformance_peer() {
    assert_eq!(central_gralloc_conformance::PEER_TEST, "conformance_peer");
    if let Some(Err(reason)) = central_gralloc_conformance::peer_from_env() {
        panic!("{reason}");
    }
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { run(stringify!($name)); })*

        #[test]
        fn every_case_has_a_test() {
            let listed = [$(stringify!($name)),*];
            for case in central_gralloc_conformance::CASES {
                assert!(listed.contains(&case.name), "case {} has no #[test]", case.name);
            }
        }
    };
}

cases!(
    mapper_suffix_is_central,
    interface_version_is_2,
    allocate_64x64_rgba_cpu_often,
    unknown_usage_bit_is_unsupported,
    unknown_option_is_unsupported,
    layer_count_zero_fails,
    bad_counts_fail,
    allocate_v1_is_unsupported,
    is_supported_agrees_with_allocate2,
    count_buffers_share_one_stride,
    handle_stride_equals_result_stride,
    fds_are_shared_memory,
    mapper_write_read_back_through_second_import,
    mapper_metadata_agrees_with_allocation,
);
