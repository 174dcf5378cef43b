//! Shared pieces of the benchmark tools: the generated ceiling protocol.
pub mod pb {
    tonic::include_proto!("bench.v1");
}
