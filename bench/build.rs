//! Generates the bare ceiling servers' gRPC code from `bench/proto`.
use std::env;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: build scripts are single-threaded; nothing else reads the environment concurrently.
    unsafe { env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?) };
    tonic_prost_build::configure().compile_protos(&["proto/bench/v1/ceiling.proto"], &["proto"])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
