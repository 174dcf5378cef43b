//! Calling any RPC by path with raw protobuf bytes, and the list of every
//! RPC read from the served descriptor set: the generated matrices (fuzz,
//! credentials, isolation) are built on these, so a new RPC joins them
//! without anyone remembering to add it.
use crate::support::*;
use bytes::{Buf, BufMut, Bytes};
use customerhub::grpc::pb;
use prost::Message;
use std::collections::HashMap;
use tonic::{
    Request, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    metadata::MetadataValue,
};

#[derive(Clone, Default)]
pub struct RawCodec;
pub struct RawEncoder;
pub struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

pub struct Method {
    pub service: String,
    pub name: String,
    pub path: String,
    /// Fully qualified input type, with the leading dot (".customerhub.v1.GetCustomerRequest").
    pub input_type: String,
    pub client_streaming: bool,
    pub server_streaming: bool,
}

impl Method {
    pub fn is_hub(&self) -> bool {
        self.service == "HubService"
    }
}

pub fn descriptor_set() -> prost_types::FileDescriptorSet {
    prost_types::FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).expect("served descriptor set")
}

/// Every customerhub message type by its qualified name (".customerhub.v1.Customer").
pub fn message_types(set: &prost_types::FileDescriptorSet) -> HashMap<String, &prost_types::DescriptorProto> {
    set.file
        .iter()
        .filter(|f| f.package() == "customerhub.v1")
        .flat_map(|f| f.message_type.iter().map(move |m| (format!(".customerhub.v1.{}", m.name()), m)))
        .collect()
}

/// Every method of every customerhub service.
pub fn methods() -> Vec<Method> {
    let mut out = vec![];
    for file in descriptor_set().file.iter().filter(|f| f.package() == "customerhub.v1") {
        for svc in &file.service {
            for m in &svc.method {
                out.push(Method {
                    service: svc.name().to_string(),
                    name: m.name().to_string(),
                    path: format!("/customerhub.v1.{}/{}", svc.name(), m.name()),
                    input_type: m.input_type().to_string(),
                    client_streaming: m.client_streaming(),
                    server_streaming: m.server_streaming(),
                });
            }
        }
    }
    assert!(out.len() >= 90, "every service's methods: {}", out.len());
    out
}

/// What came back: the response messages (for a stream, the first one), or the status.
pub type Answer = Result<Vec<Bytes>, Status>;

/// Calls `m` with `body` (sent twice on client streams); a server stream is
/// read for its first message only.
pub async fn call(app: &TestApp, m: &Method, token: Option<&str>, body: Bytes) -> Answer {
    let mut grpc = tonic::client::Grpc::new(app.channel());
    grpc.ready().await.expect("channel ready");
    let path = http::uri::PathAndQuery::try_from(m.path.as_str()).expect("method path");
    fn auth<T>(mut r: Request<T>, token: Option<&str>) -> Request<T> {
        if let Some(t) = token {
            r.metadata_mut().insert("authorization", MetadataValue::try_from(format!("Bearer {t}")).unwrap());
        }
        r
    }
    match (m.client_streaming, m.server_streaming) {
        (false, false) => {
            grpc.unary(auth(Request::new(body), token), path, RawCodec).await.map(|r| vec![r.into_inner()])
        }
        (false, true) => {
            let mut s = grpc.server_streaming(auth(Request::new(body), token), path, RawCodec).await?.into_inner();
            match tokio::time::timeout(std::time::Duration::from_secs(5), s.message()).await {
                Ok(first) => Ok(first?.into_iter().collect()),
                Err(_) => Ok(vec![]),
            }
        }
        (true, _) => {
            let stream = tokio_stream::iter(vec![body.clone(), body]);
            grpc.client_streaming(auth(Request::new(stream), token), path, RawCodec).await.map(|r| vec![r.into_inner()])
        }
    }
}
