//! Shared pieces of the benchmark tools: the generated ceiling protocol.
pub mod pb {
    tonic::include_proto!("bench.v1");
}

/// Puts `authorization: Bearer <key>` on every call of a generated client.
#[derive(Clone)]
pub struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl Bearer {
    pub fn new(key: &str) -> anyhow::Result<Self> {
        Ok(Self(format!("Bearer {key}").parse()?))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}
