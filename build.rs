//! Generates the gRPC server and client code from `proto/`, plus the encoded
//! descriptor set that server reflection serves to grpcurl.
use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // protoc comes from a crate, so a fresh machine needs nothing installed.
    // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
    unsafe { env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?) };

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let protos = [
        "proto/customerhub/v1/common.proto",
        "proto/customerhub/v1/workspace_service.proto",
        "proto/customerhub/v1/customer_service.proto",
        "proto/customerhub/v1/hub_service.proto",
        "proto/customerhub/v1/notification_service.proto",
        "proto/customerhub/v1/punch_card_service.proto",
        "proto/customerhub/v1/timesheet_service.proto",
        "proto/customerhub/v1/reminder_service.proto",
    ];
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("customerhub_descriptor.bin"))
        .compile_protos(&protos, &["proto"])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
